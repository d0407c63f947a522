// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import type { IntervalTimers } from "../../lib/agent/heap_trim.ts";
import {
  DEVICE_WATCH_MS,
  listedAddresses,
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

Deno.test("startDeviceWatch() asks for a repair while wanted addresses are missing", () => {
  const timers = new FakeTimers();
  const log = memoryLogger();
  let listed = new Set(["9.251.0.1", "9.251.0.2"]);
  let wanted = new Set(["9.251.0.1", "9.251.0.2"]);
  let repairs = 0;
  const watch = startDeviceWatch({
    device: "edge0",
    wanted: () => wanted,
    listed: (d) => (assert.equal(d, "edge0"), listed),
    onDamage: () => repairs++,
    log,
    timers,
  });
  assert.equal(timers.ms, DEVICE_WATCH_MS);
  const steps: [string, () => void, number, number][] = [
    ["whole", () => {}, 0, 0],
    ["an address removed (ip addr del)", () => (listed = new Set(["9.251.0.1"])), 1, 1],
    ["the device deleted (ip link del)", () => (listed = new Set()), 2, 2],
    ["repaired", () => (listed = new Set(wanted)), 0, 2],
    ["a foreign address alone does not count", () => listed.add("10.0.0.1"), 0, 2],
    [
      "nothing wanted yet (no address put on)",
      () => {
        wanted = new Set();
        listed = new Set();
      },
      0,
      2,
    ],
  ];
  for (const [name, change, missing, wantRepairs] of steps) {
    change();
    timers.tick();
    assert.equal(watch.missing(), missing, name);
    assert.equal(repairs, wantRepairs, name);
  }
  // `missing()` looks when asked, between two ticks too.
  wanted = new Set(["9.251.0.9"]);
  assert.equal(watch.missing(), 1);
  const lines = log.lines.map((l) => JSON.parse(l)).map((l) => `${l.level} ${l.msg}`);
  assert.deepEqual(lines, [
    "warn Addresses are missing from the device; repairing it now",
    "info The device is whole again",
  ]);
  watch.close();
  assert.equal(timers.cleared, true);
});

Deno.test("listedAddresses() lists loopback's 127.0.0.1 and nothing for an absent device", () => {
  assert.ok(listedAddresses("lo").has("127.0.0.1"));
  assert.equal(listedAddresses("edgemesh-none0").size, 0);
});
