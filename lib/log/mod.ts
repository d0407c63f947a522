// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Leveled, structured logging (logfmt or JSON lines) passed explicitly to components.
 * @module
 */
export * from "./logger.ts";
