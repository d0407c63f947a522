// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { startStateRetry, STATE_RETRY_MS } from "../../lib/agent/state_retry.ts";
import { FakeIntervals } from "../_helpers/timers.ts";

/** Lets the `finally` of a settled attempt run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 4; i++) await Promise.resolve();
}

/**
 * Each row: for ticks 1…N, whether writes fail at that tick; the ticks at which an attempt is
 * made (an attempt that succeeds clears the failure). Max wait 4 periods.
 */
const ROWS: readonly {
  readonly name: string;
  readonly failingUntil: number;
  readonly ticks: number;
  readonly attempts: readonly number[];
}[] = [
  { name: "writes work: no attempt", failingUntil: 0, ticks: 6, attempts: [] },
  { name: "fixed before the first attempt", failingUntil: 1, ticks: 4, attempts: [1] },
  {
    name: "still failing: 1, 2, 4 periods apart, then at most 4",
    failingUntil: 99,
    ticks: 16,
    attempts: [1, 3, 7, 11, 15],
  },
  {
    name: "fixed after a while: the attempt after it",
    failingUntil: 5,
    ticks: 12,
    attempts: [1, 3, 7],
  },
];

for (const row of ROWS) {
  Deno.test(`startStateRetry(): ${row.name}`, async () => {
    const timers = new FakeIntervals();
    let tick = 0;
    let failing = row.failingUntil > 0;
    const attempts: number[] = [];
    const retry = startStateRetry({
      failing: () => failing,
      retry: () => {
        attempts.push(tick);
        // The disk takes the write once it was fixed (at tick failingUntil).
        if (tick >= row.failingUntil) failing = false;
        return Promise.resolve();
      },
      maxMs: 4 * STATE_RETRY_MS,
      timers,
    });
    assert.equal(timers.ms, STATE_RETRY_MS);
    for (tick = 1; tick <= row.ticks; tick++) {
      timers.tick();
      await settle();
    }
    assert.deepEqual(attempts, row.attempts);
    retry.close();
    assert.equal(timers.cleared, true);
  });
}

Deno.test("startStateRetry() makes no second attempt while one is in progress", async () => {
  const timers = new FakeIntervals();
  const pending = Promise.withResolvers<void>();
  let attempts = 0;
  const retry = startStateRetry({
    failing: () => true,
    retry: () => (attempts++, pending.promise),
    intervalMs: 1000,
    maxMs: 1000,
    timers,
  });
  for (let i = 0; i < 3; i++) timers.tick();
  assert.equal(attempts, 1);
  pending.resolve();
  await settle();
  timers.tick();
  assert.equal(attempts, 2);
  retry.close();
});
