// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import type { IntervalTimers } from "../../lib/agent/heap_trim.ts";
import {
  DEVICE_WATCH_MS,
  interfaceListed,
  startDeviceWatch,
} from "../../lib/agent/device_watch.ts";
import { memoryLogger } from "../../lib/log/mod.ts";

/** An interval timer the test fires by hand with `tick()`. */
class FakeTimers implements IntervalTimers {
  fn: (() => void) | null = null;
  ms = 0;
  cleared = false;
  setInterval(fn: () => void, ms: number): unknown {
    this.fn = fn;
    this.ms = ms;
    return 1;
  }
  clearInterval(): void {
    this.cleared = true;
  }
  tick(): void {
    assert.ok(this.fn && !this.cleared, "tick() on a live interval");
    this.fn();
  }
}

Deno.test("startDeviceWatch() reports a missing device and asks for a repair at each look", () => {
  const timers = new FakeTimers();
  const log = memoryLogger();
  let listed = true;
  let expected = true;
  let repairs = 0;
  const watch = startDeviceWatch({
    device: "edge0",
    expected: () => expected,
    present: (d) => (assert.equal(d, "edge0"), listed),
    onMissing: () => repairs++,
    log,
    timers,
  });
  assert.equal(timers.ms, DEVICE_WATCH_MS);
  const steps: [string, () => void, boolean, number][] = [
    ["present", () => {}, false, 0],
    ["deleted", () => (listed = false), true, 1],
    ["still gone: asks again", () => {}, true, 2],
    ["repaired", () => (listed = true), false, 2],
    [
      "not expected (no address yet) is not missing",
      () => {
        listed = false;
        expected = false;
      },
      false,
      2,
    ],
  ];
  for (const [name, change, missing, wantRepairs] of steps) {
    change();
    timers.tick();
    assert.equal(watch.missing(), missing, name);
    assert.equal(repairs, wantRepairs, name);
    if (name === "still gone: asks again") {
      listed = true; // repaired between two looks: no longer missing when asked
      assert.equal(watch.missing(), false);
      listed = false;
    }
  }
  const lines = log.lines.map((l) => JSON.parse(l)).map((l) => `${l.level} ${l.msg}`);
  assert.deepEqual(lines, [
    "warn The device is gone; repairing it now",
    "info The device is back",
  ]);
  watch.close();
  assert.equal(timers.cleared, true);
});

Deno.test("interfaceListed() finds loopback and not an absent name", () => {
  assert.equal(interfaceListed("lo"), true);
  assert.equal(interfaceListed("edgemesh-none0"), false);
});
