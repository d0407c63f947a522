// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { FakeIntervals } from "../_helpers/timers.ts";
import { HEAP_TRIM_MS, startHeapTrim } from "../../lib/agent/heap_trim.ts";
import { memoryLogger, nullLogger } from "../../lib/log/mod.ts";

Deno.test("startHeapTrim() trims once per interval until closed", () => {
  const timers = new FakeIntervals();
  let calls = 0;
  const trimmer = startHeapTrim({ trim: () => (calls++, true), log: nullLogger, timers });
  assert.equal(trimmer.name, "heap trim");
  assert.equal(timers.ms, HEAP_TRIM_MS);
  assert.equal(HEAP_TRIM_MS, 10_000);
  assert.equal(calls, 0, "the first trim waits one interval");
  timers.tick();
  timers.tick();
  timers.tick();
  assert.equal(calls, 3);
  assert.equal(timers.cleared, false);
  trimmer.close();
  assert.equal(timers.cleared, true);
});

Deno.test("startHeapTrim() stops by itself without malloc_trim and says so at debug", () => {
  const timers = new FakeIntervals();
  const log = memoryLogger("debug");
  let calls = 0;
  startHeapTrim({ trim: () => (calls++, null), intervalMs: 50, log, timers });
  assert.equal(timers.ms, 50);
  timers.tick();
  assert.equal(calls, 1);
  assert.equal(timers.cleared, true, "no further trims are scheduled");
  assert.equal(log.lines.length, 1);
  assert.match(log.lines[0]!, /malloc_trim is not available/);
});

Deno.test("startHeapTrim() runs on the real timers by default", async () => {
  const { promise, resolve } = Promise.withResolvers<void>();
  const trimmer = startHeapTrim({
    trim: () => (resolve(), true),
    intervalMs: 1,
    log: nullLogger,
  });
  await promise;
  trimmer.close();
});

Deno.test("startHeapTrim() rejects intervals that are not positive and finite", async (t) => {
  for (const intervalMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
    await t.step(String(intervalMs), () => {
      const timers = new FakeIntervals();
      assert.throws(
        () => startHeapTrim({ trim: () => true, intervalMs, log: nullLogger, timers }),
        (e: unknown) => e instanceof RangeError && /interval must be positive/.test(e.message),
      );
      assert.equal(timers.fn, null, "nothing was scheduled");
    });
  }
});
