// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Leveled, structured logging (logfmt or JSON lines) passed explicitly to components, and a
 * per-key rate limiter for lines that would otherwise repeat on every connection.
 * @module
 */
export * from "./logger.ts";
export * from "./ratelimit.ts";
