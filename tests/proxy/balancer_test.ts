// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { backendKey, Balancer } from "../../lib/proxy/mod.ts";
import type { Backend } from "../../lib/registry/model.ts";
import { prng } from "../_helpers/prng.ts";

const be = (ip: string, port = 80): Backend => ({ ip, port, nodeName: null });
const [A, B, C, D] = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"].map((ip) => be(ip)) as [
  Backend,
  Backend,
  Backend,
  Backend,
];
const NONE = { type: "None" } as const;

function picks(b: Balancer, n: number, clientIp = "", now = 0): string[] {
  return Array.from({ length: n }, () => b.pick(clientIp, now)?.ip ?? "null");
}

Deno.test("Balancer.pick() cycles round-robin in endpoint order", () => {
  const b = new Balancer({ strategy: "RoundRobin", affinity: NONE });
  assert.equal(b.pick("", 0), null, "no backends → null");
  b.setBackends([A, B, C]);
  assert.deepEqual(picks(b, 7), [
    "10.0.0.1",
    "10.0.0.2",
    "10.0.0.3",
    "10.0.0.1",
    "10.0.0.2",
    "10.0.0.3",
    "10.0.0.1",
  ]);
});

Deno.test("Balancer.setBackends() keeps the round-robin position across updates", async (t) => {
  await t.step("adding an endpoint continues after the last pick", () => {
    const b = new Balancer({ strategy: "RoundRobin", affinity: NONE });
    b.setBackends([A, B, C]);
    assert.deepEqual(picks(b, 2), ["10.0.0.1", "10.0.0.2"]);
    b.setBackends([A, B, C, D]);
    assert.deepEqual(picks(b, 4), ["10.0.0.3", "10.0.0.4", "10.0.0.1", "10.0.0.2"]);
  });
  await t.step("removing a not-yet-picked endpoint skips it without restarting", () => {
    const b = new Balancer({ strategy: "RoundRobin", affinity: NONE });
    b.setBackends([A, B, C, D]);
    assert.deepEqual(picks(b, 1), ["10.0.0.1"]);
    b.setBackends([A, C, D]);
    assert.deepEqual(picks(b, 3), ["10.0.0.3", "10.0.0.4", "10.0.0.1"]);
  });
  await t.step("removing the last-picked endpoint keeps the position", () => {
    const b = new Balancer({ strategy: "RoundRobin", affinity: NONE });
    b.setBackends([A, B, C]);
    assert.deepEqual(picks(b, 2), ["10.0.0.1", "10.0.0.2"]);
    b.setBackends([A, C]);
    assert.deepEqual(picks(b, 2), ["10.0.0.1", "10.0.0.3"]);
  });
  await t.step("an identical update changes nothing", () => {
    const b = new Balancer({ strategy: "RoundRobin", affinity: NONE });
    b.setBackends([A, B, C]);
    picks(b, 1);
    b.setBackends([be("10.0.0.1"), be("10.0.0.2"), be("10.0.0.3")]);
    assert.deepEqual(picks(b, 2), ["10.0.0.2", "10.0.0.3"]);
  });
});

Deno.test("Balancer.pick() skips what the caller excludes", async (t) => {
  for (const strategy of ["RoundRobin", "Random"] as const) {
    await t.step(strategy, () => {
      const b = new Balancer({ strategy, affinity: NONE, random: prng(1) });
      b.setBackends([A, B, C]);
      const skip = (k: string) => k !== backendKey(B);
      for (let i = 0; i < 10; i++) assert.equal(b.pick("", 0, skip)?.ip, "10.0.0.2");
      assert.equal(b.pick("", 0, () => true), null);
    });
  }
});

Deno.test("Balancer.pick() with Random spreads over every backend", () => {
  const b = new Balancer({ strategy: "Random", affinity: NONE, random: prng(42) });
  b.setBackends([A, B, C, D]);
  const counts = new Map<string, number>();
  for (const ip of picks(b, 4000)) counts.set(ip, (counts.get(ip) ?? 0) + 1);
  assert.equal(counts.size, 4);
  for (const [ip, n] of counts) assert.ok(n > 850 && n < 1150, `${ip} picked ${n} times`);
});

Deno.test("Balancer.pick() with Random uses the injected source", () => {
  const values = [0, 0.99, 0.5, 0.26];
  const b = new Balancer({ strategy: "Random", affinity: NONE, random: () => values.shift()! });
  b.setBackends([A, B, C, D]);
  assert.deepEqual(picks(b, 4), ["10.0.0.1", "10.0.0.4", "10.0.0.3", "10.0.0.2"]);
});

Deno.test("Balancer ClientIP affinity is sticky, refreshed on use and expires", async (t) => {
  const affinity = { type: "ClientIP", timeoutSeconds: 10 } as const;
  const make = () => {
    const b = new Balancer({ strategy: "RoundRobin", affinity });
    b.setBackends([A, B, C]);
    return b;
  };
  await t.step("same client keeps its backend, others are balanced", () => {
    const b = make();
    const first = b.pick("192.0.2.1", 0)!;
    b.commit("192.0.2.1", first, 0);
    for (let i = 0; i < 5; i++) assert.equal(b.pick("192.0.2.1", 1000 * i)?.ip, first.ip);
    const other = b.pick("192.0.2.2", 0)!;
    assert.notEqual(other.ip, first.ip);
  });
  await t.step("use within the timeout refreshes the pin", () => {
    const b = make();
    const first = b.pick("192.0.2.1", 0)!;
    b.commit("192.0.2.1", first, 0);
    b.commit("192.0.2.1", b.pick("192.0.2.1", 9_000)!, 9_000);
    assert.equal(b.pick("192.0.2.1", 18_000)?.ip, first.ip, "still pinned 9 s after last use");
  });
  await t.step("pin expires after timeoutSeconds without use", () => {
    const b = make();
    const first = b.pick("192.0.2.1", 0)!; // A, RR cursor now at B
    b.commit("192.0.2.1", first, 0);
    assert.equal(b.pick("192.0.2.1", 10_000)?.ip, first.ip, "exactly at the timeout: kept");
    assert.equal(b.pins(10_001), 0);
    assert.equal(b.pick("192.0.2.1", 10_001)?.ip, "10.0.0.2", "expired → fresh RR pick");
  });
  await t.step("a pinned backend that is gone or skipped gets a fresh pick", () => {
    const b = make();
    b.commit("192.0.2.1", A, 0);
    assert.equal(b.pick("192.0.2.1", 1, (k) => k === backendKey(A))?.ip, "10.0.0.2");
    b.setBackends([B, C]);
    assert.notEqual(b.pick("192.0.2.1", 2)?.ip, "10.0.0.1");
  });
});

Deno.test("Balancer.matches() detects strategy and affinity changes", () => {
  const b = new Balancer({
    strategy: "RoundRobin",
    affinity: { type: "ClientIP", timeoutSeconds: 5 },
  });
  assert.equal(b.matches("RoundRobin", { type: "ClientIP", timeoutSeconds: 5 }), true);
  assert.equal(b.matches("Random", { type: "ClientIP", timeoutSeconds: 5 }), false);
  assert.equal(b.matches("RoundRobin", { type: "ClientIP", timeoutSeconds: 6 }), false);
  assert.equal(b.matches("RoundRobin", NONE), false);
});

Deno.test("Balancer with a shared cursor takes turns with another thread's balancer", () => {
  const cells = new Int32Array(new SharedArrayBuffer(8));
  const cursor = { cells, index: 1 };
  const one = new Balancer({ strategy: "RoundRobin", affinity: NONE, cursor });
  const two = new Balancer({ strategy: "RoundRobin", affinity: NONE, cursor });
  for (const b of [one, two]) b.setBackends([A, B, C]);
  const order = [one, two, two, one, two, one].map((b) => b.pick("", 0)?.ip);
  assert.deepEqual(order, [A.ip, B.ip, C.ip, A.ip, B.ip, C.ip], "one cycle across both");
  assert.equal(cells[0], 0, "other cells untouched");
  // Skips still apply, and move the shared position past the pick.
  assert.equal(one.pick("", 0, (k) => k === backendKey(A))?.ip, B.ip);
  assert.equal(two.pick("", 0)?.ip, C.ip);
  assert.ok(one.matches("RoundRobin", NONE, cursor));
  assert.ok(!one.matches("RoundRobin", NONE), "a balancer without the cursor differs");
});

Deno.test("backendKey() names an endpoint as host:port, an IPv6 address in brackets", () => {
  const rows: [string, number, string][] = [
    ["10.0.0.5", 8080, "10.0.0.5:8080"],
    ["2001:db8::2", 8080, "[2001:db8::2]:8080"],
    ["::ffff:10.0.0.5", 80, "[::ffff:10.0.0.5]:80"],
  ];
  for (const [ip, port, want] of rows) assert.equal(backendKey(be(ip, port)), want);
});
