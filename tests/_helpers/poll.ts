// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Waiting for a state that has no event to wait on (a metric series going away): look again
 * every few milliseconds until it holds, and fail with what was awaited once a deadline passes.
 * The deadline is only a failure bound; the wait ends as soon as the state is reached.
 * @module
 */

/**
 * Resolves with `check()`'s first truthy result; rejects when there is none within `timeoutMs`.
 * `describe` names the awaited state (and may show the last result) in the error.
 */
export async function pollUntil<T>(
  check: () => T | Promise<T>,
  describe: (last: T | undefined) => string,
  timeoutMs = 10_000,
  everyMs = 10,
): Promise<NonNullable<T>> {
  const deadline = performance.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await check();
    if (last) return last as NonNullable<T>;
    if (performance.now() >= deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${describe(last)}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Whether `promise` has settled (resolved or rejected), looked at after every pending callback
 * ran: for asserting that something has not happened yet without waiting for it.
 */
export async function settledYet(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(() => (done = true), () => (done = true));
  await new Promise((r) => setTimeout(r, 0));
  return done;
}
