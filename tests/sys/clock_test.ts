// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { monotonicNow } from "../../lib/sys/mod.ts";
import { steppableWallClock } from "../_helpers/clock.ts";

const STEPS = [
  { name: "set back an hour", ms: -3_600_000 },
  { name: "set forward a day", ms: 86_400_000 },
];

Deno.test("monotonicNow() is on the epoch scale and ignores steps of the wall clock", async (t) => {
  await t.step("close to Date.now() while the wall clock has not stepped", () => {
    assert.ok(Math.abs(monotonicNow() - Date.now()) < 1_000);
  });
  for (const { name, ms } of STEPS) {
    await t.step(`wall clock ${name}: it goes on where it was`, () => {
      using wall = steppableWallClock();
      const [wallBefore, before] = [Date.now(), monotonicNow()];
      wall.step(ms);
      const [wallAfter, after] = [Date.now(), monotonicNow()];
      assert.ok(Math.abs(wallAfter - wallBefore - ms) < 1_000, "Date.now() did step");
      assert.ok(after >= before && after - before < 1_000, `${after - before} ms`);
    });
  }
  await t.step("never goes back", () => {
    let last = monotonicNow();
    for (let i = 0; i < 10_000; i++) {
      const now = monotonicNow();
      assert.ok(now >= last);
      last = now;
    }
  });
});

Deno.test("monotonicNow() gives whole milliseconds, as Date.now() does", () => {
  for (let i = 0; i < 100; i++) assert.ok(Number.isInteger(monotonicNow()));
});
