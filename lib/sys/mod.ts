// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * System calls Deno does not offer, through FFI on the C library (see `libc.ts`).
 * @module
 */
export { errno, type Libc, libc, LIBC_PATHS, threadCpuSeconds, trimMallocHeap } from "./libc.ts";
export { interfaceFlags, interfaceUp } from "./netif.ts";
export { type IoSource, Reactor } from "./reactor.ts";
