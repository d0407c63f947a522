// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Summary statistics for benchmark samples: medians, min–max and paired ratios.
 *
 * Shared machines are noisy, so the suite reports the median of at least three repetitions and
 * compares systems by the ratio of values measured in the same repetition (paired), which
 * cancels slow drifts in machine load that would skew a ratio of two separate medians.
 * @module
 */

/** Median, minimum and maximum of a set of samples. */
export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
}

/**
 * The median of `values` (mean of the two middle values for an even count).
 * @throws {RangeError} when `values` is empty or holds a non-finite number
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError("Cannot compute median: no samples");
  for (const v of values) {
    if (!Number.isFinite(v)) {
      throw new RangeError(`Cannot compute median: sample ${v} is not finite`);
    }
  }
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const hi = sorted[mid] as number;
  return sorted.length % 2 === 1 ? hi : ((sorted[mid - 1] as number) + hi) / 2;
}

/** Median and range of `values`; see {@linkcode median} for the errors. */
export function summarize(values: readonly number[]): Summary {
  const m = median(values);
  return { median: m, min: Math.min(...values), max: Math.max(...values), n: values.length };
}

/**
 * Paired ratio of two series measured in the same repetitions: the median of
 * `values[i] / reference[i]` over the repetitions where both exist and the reference is not 0.
 * Returns `null` when no repetition pairs up.
 *
 * Series may contain `null` for a repetition that failed; such pairs are skipped.
 */
export function pairedRatio(
  values: readonly (number | null)[],
  reference: readonly (number | null)[],
): number | null {
  const ratios: number[] = [];
  const n = Math.min(values.length, reference.length);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    const r = reference[i];
    if (v === null || v === undefined || r === null || r === undefined || r === 0) continue;
    if (!Number.isFinite(v) || !Number.isFinite(r)) continue;
    ratios.push(v / r);
  }
  return ratios.length === 0 ? null : median(ratios);
}

/**
 * The `p`-th percentile (0–100) of `sorted` (ascending), nearest-rank method as dnsperf-like
 * tools and wrk report it.
 * @throws {RangeError} when `sorted` is empty or `p` is outside 0–100
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) throw new RangeError("Cannot compute percentile: no samples");
  if (!(p >= 0 && p <= 100)) {
    throw new RangeError(`Cannot compute percentile: p ${p} is out of range`);
  }
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

/** The rotation of `items` for repetition `rep`, so no system always runs first or last. */
export function rotate<T>(items: readonly T[], rep: number): T[] {
  if (items.length === 0) return [];
  const k = ((rep % items.length) + items.length) % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}
