// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * `make test-arm64` runs the suite with the aarch64 Deno under qemu user-mode emulation, about
 * ten times slower than native (≈7 s per spawned `deno run main.ts`). It sets
 * `EDGEMESH_TEST_EMULATED`; tests whose cost is volume or repetition (fuzz corpora, 100 MiB
 * transfers, one child process per CLI row) use these helpers to run a smaller sample there.
 * Behaviour is asserted the same way; the full volume runs natively in `make test`.
 * @module
 */

/** Whether this run is under emulation (`EDGEMESH_TEST_EMULATED`, set by `make test-arm64`). */
export const EMULATED: boolean = (() => {
  try {
    return (Deno.env.get("EDGEMESH_TEST_EMULATED") ?? "") !== "";
  } catch {
    return false; // no --allow-env: a native run
  }
})();

/** `n` natively; `n / divisor` (at least 1) under emulation. */
export function scaled(n: number, divisor = 10): number {
  return EMULATED ? Math.max(1, Math.floor(n / divisor)) : n;
}

/** All `rows` natively; under emulation the first `keep` (enough to prove the code path). */
export function sampled<T>(rows: readonly T[], keep = 2): readonly T[] {
  return EMULATED ? rows.slice(0, keep) : rows;
}
