// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import {
  dnsAddress,
  parseIpv4,
  parseSubnet,
  PoolExhaustedError,
  VipPool,
} from "../../lib/registry/mod.ts";

Deno.test("VipPool.allocate() gives 1000 services distinct addresses inside the subnet", () => {
  const pool = new VipPool("9.251.0.0/16");
  const seen = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const vip = pool.allocate(`default/svc-${i}`);
    assert.ok(!seen.has(vip), `duplicate ${vip}`);
    seen.add(vip);
    const n = parseIpv4(vip)!;
    assert.ok(n >= parseIpv4("9.251.0.2")! && n <= parseIpv4("9.251.255.254")!, vip);
  }
  assert.equal(pool.allocate("default/svc-7"), pool.get("default/svc-7"), "allocate is idempotent");
  assert.deepEqual(pool.stats(), { size: 65533, used: 1000, reserved: 0 });
  assert.equal(pool.allocate("default/first-after"), "9.251.3.234");
});

Deno.test("VipPool never hands out the network, DNS or broadcast address", () => {
  const pool = new VipPool("10.9.0.0/24");
  const got = new Set<string>();
  for (let i = 0; i < pool.size; i++) got.add(pool.allocate(`ns/s${i}`));
  assert.equal(got.size, 253);
  for (const reserved of ["10.9.0.0", "10.9.0.1", "10.9.0.255"]) {
    assert.ok(!got.has(reserved), reserved);
  }
  assert.ok(got.has("10.9.0.2") && got.has("10.9.0.254"));
  assert.throws(() => pool.allocate("ns/one-more"), PoolExhaustedError);
});

Deno.test("VipPool.release() frees an address; next-fit reuses it only after wrapping", () => {
  const pool = new VipPool("9.251.0.0/29"); // hosts .2 .. .6
  assert.equal(pool.allocate("a/a"), "9.251.0.2");
  assert.equal(pool.allocate("a/b"), "9.251.0.3");
  assert.equal(pool.release("a/a"), "9.251.0.2");
  assert.equal(pool.release("a/a"), undefined, "second release is a no-op");
  assert.equal(pool.allocate("a/c"), "9.251.0.4", "the just-released .2 is not reused first");
  assert.equal(pool.allocate("a/d"), "9.251.0.5");
  assert.equal(pool.allocate("a/e"), "9.251.0.6");
  assert.equal(pool.allocate("a/f"), "9.251.0.2", "wraps around to the freed address");
  assert.equal(pool.owner("9.251.0.2"), "a/f");
  assert.equal(pool.stats().used, 5);
});

Deno.test("VipPool on a /30 holds one VIP and then throws PoolExhaustedError", () => {
  const pool = new VipPool("9.251.0.0/30");
  assert.equal(pool.allocate("default/first"), "9.251.0.2");
  assert.throws(() => pool.allocate("default/nginx"), (e: unknown) => {
    assert.ok(e instanceof PoolExhaustedError);
    assert.ok(e instanceof RangeError);
    assert.equal(e.name, "PoolExhaustedError");
    assert.equal(e.message, 'Cannot allocate VIP for "default/nginx": subnet 9.251.0.0/30 is full');
    assert.equal(e.service, "default/nginx");
    assert.equal(e.subnet, "9.251.0.0/30");
    return true;
  });
});

Deno.test("VipPool.reserve() restores assignments and refuses foreign or taken addresses", async (t) => {
  const pool = new VipPool("9.251.0.0/16");
  const rows: [string, string, string, boolean][] = [
    ["restores", "a/x", "9.251.7.7", true],
    ["same key again", "a/x", "9.251.7.7", true],
    ["taken by another key", "a/y", "9.251.7.7", false],
    ["outside the subnet", "a/y", "10.0.0.5", false],
    ["network address", "a/y", "9.251.0.0", false],
    ["DNS address", "a/y", "9.251.0.1", false],
    ["broadcast", "a/y", "9.251.255.255", false],
    ["not an address", "a/y", "nonsense", false],
  ];
  for (const [name, key, vip, ok] of rows) {
    await t.step(name, () => assert.equal(pool.reserve(key, vip), ok));
  }
  assert.equal(pool.get("a/y"), undefined);
  assert.equal(pool.used, 1);
});

/** One allocation scenario over a small subnet with addresses the node holds. */
interface ReservedRow {
  readonly name: string;
  readonly subnet: string;
  /** Restored first with `reserve(key, vip)`, before the reserved set is given. */
  readonly restored?: Readonly<Record<string, string>>;
  readonly cursor?: number;
  readonly reserved: readonly string[];
  /** Services allocated in order, and the VIP each must get (null: PoolExhaustedError). */
  readonly allocate: readonly (readonly [string, string | null])[];
  readonly stats: { size: number; used: number; reserved: number };
}

const RESERVED_ROWS: readonly ReservedRow[] = [
  {
    name: "skips a reserved address",
    subnet: "9.251.0.0/29", // hosts .2 .. .6
    reserved: ["9.251.0.3"],
    allocate: [["a/a", "9.251.0.2"], ["a/b", "9.251.0.4"], ["a/c", "9.251.0.5"]],
    stats: { size: 5, used: 3, reserved: 1 },
  },
  {
    name: "skips several in a row, and ignores addresses outside the assignable range",
    subnet: "9.251.0.0/29",
    reserved: ["9.251.0.2", "9.251.0.3", "9.251.0.1", "9.251.0.7", "10.0.0.2", "fe80::1", "x"],
    allocate: [["a/a", "9.251.0.4"]],
    stats: { size: 5, used: 1, reserved: 2 },
  },
  {
    name: "wraps around past reserved addresses at the end",
    subnet: "9.251.0.0/29",
    cursor: 5,
    reserved: ["9.251.0.5", "9.251.0.6"],
    allocate: [["a/a", "9.251.0.2"], ["a/b", "9.251.0.3"]],
    stats: { size: 5, used: 2, reserved: 2 },
  },
  {
    name: "is full when every remaining address is reserved",
    subnet: "9.251.0.0/29",
    reserved: ["9.251.0.4", "9.251.0.5", "9.251.0.6"],
    allocate: [["a/a", "9.251.0.2"], ["a/b", "9.251.0.3"], ["a/c", null]],
    stats: { size: 5, used: 2, reserved: 3 },
  },
  {
    name: "keeps a restored VIP the node also holds (used, not reserved)",
    subnet: "9.251.0.0/29",
    restored: { "a/old": "9.251.0.3" },
    reserved: ["9.251.0.3", "9.251.0.4"],
    allocate: [["a/old", "9.251.0.3"], ["a/a", "9.251.0.2"], ["a/b", "9.251.0.5"]],
    stats: { size: 5, used: 3, reserved: 1 },
  },
  {
    name: "on a /30 the one VIP reserved leaves nothing",
    subnet: "9.251.0.0/30",
    reserved: ["9.251.0.2"],
    allocate: [["a/a", null]],
    stats: { size: 1, used: 0, reserved: 1 },
  },
];

Deno.test("VipPool.allocate() skips the addresses given to setReserved()", async (t) => {
  for (const row of RESERVED_ROWS) {
    await t.step(row.name, () => {
      const pool = new VipPool(row.subnet);
      for (const [key, vip] of Object.entries(row.restored ?? {})) {
        assert.equal(pool.reserve(key, vip), true);
      }
      if (row.cursor !== undefined) pool.cursor = row.cursor;
      assert.equal(pool.setReserved(row.reserved), true);
      for (const [key, want] of row.allocate) {
        if (want !== null) {
          assert.equal(pool.allocate(key), want, key);
          continue;
        }
        assert.throws(() => pool.allocate(key), (e: unknown) => {
          assert.ok(e instanceof PoolExhaustedError);
          assert.equal(
            e.message,
            `Cannot allocate VIP for "${key}": subnet ${row.subnet} is full`,
          );
          return true;
        });
      }
      assert.deepEqual(pool.stats(), row.stats);
      assert.equal(pool.free, row.stats.size - row.stats.used - row.stats.reserved);
    });
  }
});

Deno.test("VipPool.setReserved() keeps the counts right as the set and the owners change", async (t) => {
  const pool = new VipPool("9.251.0.0/29"); // hosts .2 .. .6
  assert.equal(pool.allocate("a/a"), "9.251.0.2");
  await t.step("an address a service holds is used, not reserved", () => {
    assert.equal(pool.setReserved(["9.251.0.2", "9.251.0.3"]), true);
    assert.deepEqual(pool.stats(), { size: 5, used: 1, reserved: 1 });
    assert.equal(pool.isReserved("9.251.0.2"), true);
    assert.equal(pool.owner("9.251.0.2"), "a/a", "the service keeps it");
  });
  await t.step("the same set again changes nothing", () => {
    assert.equal(pool.setReserved(["9.251.0.3", "9.251.0.2"]), false);
  });
  await t.step("releasing a reserved VIP makes it reserved, not free", () => {
    assert.equal(pool.release("a/a"), "9.251.0.2");
    assert.deepEqual(pool.stats(), { size: 5, used: 0, reserved: 2 });
    assert.equal(pool.free, 3);
  });
  await t.step("reserve(key, vip) still assigns a reserved address (undoing a release)", () => {
    assert.equal(pool.reserve("a/a", "9.251.0.2"), true);
    assert.deepEqual(pool.stats(), { size: 5, used: 1, reserved: 1 });
  });
  await t.step("an address the node gave up is free again", () => {
    assert.equal(pool.setReserved([]), true);
    assert.deepEqual(pool.stats(), { size: 5, used: 1, reserved: 0 });
    assert.equal(pool.allocate("a/b"), "9.251.0.3");
  });
});

Deno.test("parseSubnet() and dnsAddress() read IPv4 CIDRs", async (t) => {
  await t.step("dnsAddress is the first host address", () => {
    assert.equal(dnsAddress("9.251.0.0/16"), "9.251.0.1");
    assert.equal(dnsAddress("10.96.8.0/22"), "10.96.8.1");
  });
  const bad: [string, ErrorConstructor][] = [
    ["9.251.0.0/33", SyntaxError],
    ["9.251.0.0", SyntaxError],
    ["9.251.0/16", SyntaxError],
    ["9.251.1.0/16", RangeError],
  ];
  for (const [text, cls] of bad) {
    await t.step(`rejects ${text}`, () => assert.throws(() => parseSubnet(text), cls));
  }
  await t.step("pool refuses prefixes outside /8../30", () => {
    assert.throws(() => new VipPool("9.251.0.0/31"), RangeError);
    assert.throws(() => new VipPool("8.0.0.0/7"), RangeError);
  });
});
