// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Prometheus metrics: primitives and the registry rendered on `/metrics`.
 * @module
 */
export * from "./registry.ts";
