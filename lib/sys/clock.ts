// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The clock for durations: deadlines, idle timeouts, cache lifetimes, backoff. `Date.now()` is
 * the wall clock, which steps: NTP correcting a device whose clock ran ahead, `date -s`, a
 * board without a battery-backed clock that boots at its build date. Against the wall clock a
 * step back by an hour keeps every deadline set before it an hour longer (an idle connection
 * kept, a cached answer served past its TTL, a removed address left on the device), and a step
 * forward ends them all at once. {@linkcode monotonicNow} cannot step: it is `Date.now()` at
 * process start plus the monotonic time since (`performance.now()`, `CLOCK_MONOTONIC`), so its
 * values stay on the scale of epoch milliseconds and fit every `now: () => number` option.
 * Times that leave the process (log lines, signed tunnel headers, status timestamps) stay on
 * the wall clock.
 * @module
 */

/**
 * Whole milliseconds that only move forward at the monotonic clock's pace (see the module docs);
 * whole, as `Date.now()`'s, so they read the same in messages and status.
 */
export function monotonicNow(): number {
  return Math.floor(performance.timeOrigin + performance.now());
}
