// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { median, pairedRatio, percentile, rotate, summarize } from "../lib/stats.ts";

Deno.test("median() takes the middle value, or the mean of the two middle values", async (t) => {
  const cases: [number[], number][] = [
    [[5], 5],
    [[3, 1, 2], 2],
    [[4, 1, 3, 2], 2.5],
    [[10, 10, 1], 10],
  ];
  for (const [values, want] of cases) {
    await t.step(JSON.stringify(values), () => assert.equal(median(values), want));
  }
});

Deno.test("median() rejects empty and non-finite samples", () => {
  assert.throws(() => median([]), RangeError);
  assert.throws(() => median([1, NaN]), /sample NaN is not finite/);
});

Deno.test("summarize() reports median, min, max and count", () => {
  assert.deepEqual(summarize([3, 9, 1]), { median: 3, min: 1, max: 9, n: 3 });
});

Deno.test("pairedRatio() is the median of per-repetition ratios, skipping failed pairs", async (t) => {
  await t.step("all pairs", () => assert.equal(pairedRatio([2, 4, 9], [1, 2, 3]), 2));
  await t.step(
    "failed repetition skipped",
    () => assert.equal(pairedRatio([2, null, 6], [1, 5, 3]), 2),
  );
  await t.step("zero reference skipped", () => assert.equal(pairedRatio([2, 3], [0, 3]), 1));
  await t.step("nothing pairs", () => assert.equal(pairedRatio([null], [1]), null));
  await t.step("differs from ratio of medians under drift", () => {
    // Load drifts: every system is slower in rep 2, the paired ratio stays 0.5.
    assert.equal(pairedRatio([5, 1, 5], [10, 2, 10]), 0.5);
  });
});

Deno.test("percentile() uses the nearest rank", async (t) => {
  const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
  await t.step("p50", () => assert.equal(percentile(sorted, 50), 50));
  await t.step("p99", () => assert.equal(percentile(sorted, 99), 99));
  await t.step("p100", () => assert.equal(percentile(sorted, 100), 100));
  await t.step("p0 is the minimum", () => assert.equal(percentile(sorted, 0), 1));
  await t.step("single sample", () => assert.equal(percentile([7], 99), 7));
  await t.step("empty", () => assert.throws(() => percentile([], 50), RangeError));
  await t.step("out of range", () => assert.throws(() => percentile([1], 101), RangeError));
});

Deno.test("rotate() starts each repetition with the next system", () => {
  const s = ["direct", "edgemesh", "haproxy", "nginx"];
  assert.deepEqual(rotate(s, 0), s);
  assert.deepEqual(rotate(s, 1), ["edgemesh", "haproxy", "nginx", "direct"]);
  assert.deepEqual(rotate(s, 5), rotate(s, 1));
  assert.deepEqual(rotate([], 3), []);
});
