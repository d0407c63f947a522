// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Prometheus metrics: primitives, the registry, and the HTTP server for `/metrics` and health.
 * @module
 */
export * from "./registry.ts";
export * from "./server.ts";
