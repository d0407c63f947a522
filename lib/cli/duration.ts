// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Reading `ctl --timeout`: milliseconds like the config's `…Ms` keys (`dialTimeoutMs`), or a
 * number with a unit for people typing it (`30s`, `1.5s`, `2m`, `500ms`).
 * @module
 */

/** Longest timeout `setTimeout` can wait for (2^31 - 1 ms, about 24.8 days). */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

const UNIT_MS: Readonly<Record<string, number>> = { "": 1, ms: 1, s: 1000, m: 60_000 };

/**
 * Parses a timeout: a bare integer is milliseconds (`0` means none), or a number with `ms`,
 * `s` or `m`. A bare number is milliseconds, not seconds, so that numbers mean the same on the
 * command line as in the config file's `…Ms` keys.
 * @throws {RangeError} when `text` is not such a duration or exceeds {@linkcode MAX_TIMEOUT_MS}
 */
export function parseTimeoutMs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|)$/.exec(text);
  const unit = UNIT_MS[m?.[2] ?? ""]!;
  const value = m ? Number(m[1]) : NaN;
  // Seconds and minutes may have fractions; milliseconds are whole.
  const ms = unit === 1 ? value : Math.round(value * unit);
  if (!Number.isInteger(ms)) {
    throw new RangeError(
      `${JSON.stringify(text)} is not a duration (milliseconds, or a number with ms, s or m)`,
    );
  }
  if (ms > MAX_TIMEOUT_MS) {
    throw new RangeError(`${JSON.stringify(text)} is too long (at most ${MAX_TIMEOUT_MS} ms)`);
  }
  return ms;
}
