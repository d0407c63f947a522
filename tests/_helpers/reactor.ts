// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/** A fresh epoll {@linkcode Reactor} for a test, closed by `await using`. */
import assert from "node:assert/strict";
import { libc } from "../../lib/sys/libc.ts";
import { Reactor } from "../../lib/sys/reactor.ts";

/** Opens a reactor on the C library (the tests run with `--allow-all`, so FFI is allowed). */
export function openReactor(): Reactor & AsyncDisposable {
  const c = libc();
  assert.ok(c, "the tests run with --allow-all: the C library loads");
  const r = Reactor.open(c);
  return Object.assign(r, { [Symbol.asyncDispose]: () => r.close() });
}
