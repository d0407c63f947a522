// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { libc, trimMallocHeap } from "../../lib/sys/mod.ts";

Deno.test("trimMallocHeap() calls glibc's malloc_trim through FFI", () => {
  const c = libc();
  assert.ok(c !== null, "the tests run on Linux with glibc and --allow-all");
  assert.equal(typeof c.malloc_trim, "function");
  // true or false (memory released or none to release); null would mean it did nothing.
  assert.equal(typeof trimMallocHeap(), "boolean");
});
