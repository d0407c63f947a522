// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Stepping the wall clock inside a test: `Date.now` replaced until disposed (the machine's clock
 * is never touched), to show that durations do not follow it. Install it before creating what is
 * tested: a component keeps the `Date.now` function it found.
 * @module
 */

/** A replaced `Date.now`; {@linkcode WallClock.step} moves it, disposing puts the real one back. */
export interface WallClock extends Disposable {
  /** Sets the wall clock `ms` later (negative: earlier), as NTP or `date -s` would. */
  step(ms: number): void;
}

/** Replaces `Date.now` with one that follows the real clock plus the steps taken. */
export function steppableWallClock(): WallClock {
  const real = Date.now;
  let offset = 0;
  Date.now = () => real() + offset;
  return {
    step(ms) {
      offset += ms;
    },
    [Symbol.dispose]() {
      Date.now = real;
    },
  };
}
