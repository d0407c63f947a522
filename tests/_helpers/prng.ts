// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.

/**
 * A small deterministic PRNG (mulberry32) returning floats in [0, 1). Tests use it instead of
 * `Math.random()` so fuzz inputs and spread assertions reproduce from their seed.
 */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
