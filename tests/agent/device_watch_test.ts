// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { FakeIntervals } from "../_helpers/timers.ts";
import {
  describeDamage,
  DEVICE_WATCH_MS,
  listedAddresses,
  startDeviceWatch,
} from "../../lib/agent/device_watch.ts";
import { memoryLogger } from "../../lib/log/mod.ts";

Deno.test("startDeviceWatch() asks for a repair while wanted addresses are missing", () => {
  const timers = new FakeIntervals();
  const log = memoryLogger();
  let listed = new Set(["9.251.0.1", "9.251.0.2"]);
  let wanted = new Set(["9.251.0.1", "9.251.0.2"]);
  let repairs = 0;
  const watch = startDeviceWatch({
    device: "edge0",
    wanted: () => wanted,
    listed: (d) => (assert.equal(d, "edge0"), listed),
    up: () => null, // no FFI: addresses only
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
    assert.equal(watch.damage()?.missing ?? 0, missing, name);
    assert.equal(repairs, wantRepairs, name);
  }
  // `damage()` looks when asked, between two ticks too.
  wanted = new Set(["9.251.0.9"]);
  assert.deepEqual(watch.damage(), { down: false, missing: 1 });
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

Deno.test("startDeviceWatch() repairs a device that is down", async (t) => {
  const timers = new FakeIntervals();
  const log = memoryLogger();
  const wanted = new Set(["9.251.0.1", "9.251.0.2"]);
  let listed = new Set(wanted);
  let up: boolean | null = true;
  let repairs = 0;
  const watch = startDeviceWatch({
    device: "edge0",
    wanted: () => wanted,
    listed: () => listed,
    up: (d) => (assert.equal(d, "edge0"), up),
    onDamage: () => repairs++,
    log,
    timers,
  });
  /** One look: what the tick logged (level, msg, problem) and whether it asked for a repair. */
  const tick = () => {
    const before = repairs;
    const mark = log.lines.length;
    timers.tick();
    const lines = log.lines.slice(mark).map((l) => JSON.parse(l))
      .map((l) => `${l.level} ${l.msg}${l.problem ? ` (${l.problem})` : ""}`);
    return { repaired: repairs > before, lines };
  };
  const rows: {
    name: string;
    change: () => void;
    damage: { down: boolean; missing: number } | null;
    repaired: boolean;
    lines: string[];
  }[] = [
    { name: "up and whole", change: () => {}, damage: null, repaired: false, lines: [] },
    {
      name: "set down (ip link set edge0 down): its addresses are still listed",
      change: () => (up = false),
      damage: { down: true, missing: 0 },
      repaired: true,
      lines: ["warn The device is down; repairing it now (the device is down)"],
    },
    {
      name: "still down at the next look: another repair, no second warning",
      change: () => {},
      damage: { down: true, missing: 0 },
      repaired: true,
      lines: [],
    },
    {
      name: "down and an address removed: a warning naming both",
      change: () => (listed = new Set(["9.251.0.1"])),
      damage: { down: true, missing: 1 },
      repaired: true,
      lines: [
        "warn The device is down; repairing it now (the device is down and 1 address is missing)",
      ],
    },
    {
      name: "up again, the address still missing",
      change: () => (up = true),
      damage: { down: false, missing: 1 },
      repaired: true,
      lines: [
        "warn Addresses are missing from the device; repairing it now (1 address is missing)",
      ],
    },
    {
      name: "repaired",
      change: () => (listed = new Set(wanted)),
      damage: null,
      repaired: false,
      lines: ["info The device is whole again"],
    },
    {
      name: "the flag cannot be read (no FFI): the addresses alone decide",
      change: () => (up = null),
      damage: null,
      repaired: false,
      lines: [],
    },
    {
      name: "deleted: no flags (ENODEV), every address missing",
      change: () => (listed = new Set()),
      damage: { down: false, missing: 2 },
      repaired: true,
      lines: [
        "warn Addresses are missing from the device; repairing it now (2 addresses are missing)",
      ],
    },
  ];
  for (const row of rows) {
    await t.step(row.name, () => {
      row.change();
      assert.deepEqual(tick(), { repaired: row.repaired, lines: row.lines });
      // `/readyz` asks between ticks and sees the same.
      assert.deepEqual(watch.damage(), row.damage);
    });
  }
  await t.step("down with nothing wanted yet still counts", () => {
    wanted.clear();
    up = false;
    assert.deepEqual(watch.damage(), { down: true, missing: 0 });
  });
  watch.close();
  assert.equal(timers.cleared, true);
});

Deno.test("describeDamage() names what is wrong", async (t) => {
  const rows: [boolean, number, string][] = [
    [true, 0, "the device is down"],
    [false, 1, "1 address is missing"],
    [false, 3, "3 addresses are missing"],
    [true, 2, "the device is down and 2 addresses are missing"],
    [false, 0, ""],
  ];
  for (const [down, missing, want] of rows) {
    await t.step(want || "intact", () => assert.equal(describeDamage({ down, missing }), want));
  }
});

Deno.test("startDeviceWatch() reads the interface list once per look and hands it to onInterfaces", () => {
  const timers = new FakeIntervals();
  const log = memoryLogger();
  let reads = 0;
  const list = [
    { name: "edge0", family: "IPv4" as const, address: "9.251.0.2" },
    { name: "eth1", family: "IPv4" as const, address: "9.251.0.7" },
  ];
  const seen: (readonly unknown[])[] = [];
  let repairs = 0;
  const watch = startDeviceWatch({
    device: "edge0",
    wanted: () => new Set(["9.251.0.2", "9.251.0.3"]),
    interfaces: () => (reads++, list),
    onInterfaces: (l) => {
      seen.push(l);
      if (seen.length === 2) throw new Error("boom");
    },
    up: () => null,
    onDamage: () => repairs++,
    log,
    timers,
  });
  timers.tick();
  assert.equal(reads, 1, "one read serves both");
  assert.deepEqual(seen, [list]);
  assert.equal(repairs, 1, "9.251.0.3 is missing from edge0 in the same list");
  timers.tick(); // onInterfaces throws: logged, the damage check still runs
  assert.equal(reads, 2);
  assert.equal(repairs, 2);
  assert.ok(log.lines.some((l) => JSON.parse(l).msg === "Cannot use the node's interface list"));
  watch.close();
});
