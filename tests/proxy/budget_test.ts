// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { budgetSummary, listenerBudget } from "../../lib/proxy/budget.ts";
import { snapshotOf } from "../_helpers/proxy_fixtures.ts";

Deno.test("listenerBudget() gives services with fewer ports their listeners first", async (t) => {
  const port = (n: number) => ({ name: `p${n}`, port: 1000 + n });
  const ports = (k: number) => Array.from({ length: k }, (_, i) => port(i));
  const snap = snapshotOf(
    { name: "big", vip: "10.0.0.1", ports: ports(6), endpoints: [] },
    { name: "one", vip: "10.0.0.2", ports: ports(1), endpoints: [] },
    { name: "two", vip: "10.0.0.3", ports: ports(2), endpoints: [] },
    { name: "novip", vip: null, ports: ports(3), endpoints: [] },
  );
  await t.step("all fit: null", () => {
    assert.equal(listenerBudget(snap, 9), null);
    assert.equal(listenerBudget(snap, 100), null);
  });
  await t.step("short: the big one loses ports", () => {
    const b = listenerBudget(snap, 5)!;
    assert.deepEqual([...b.allowed].sort(), [
      "10.0.0.1:1000",
      "10.0.0.1:1001",
      "10.0.0.2:1000",
      "10.0.0.3:1000",
      "10.0.0.3:1001",
    ]);
    assert.deepEqual([...b.short], [["default/big", { ports: 6, refused: 4 }]]);
  });
  await t.step("none allowed", () => {
    const b = listenerBudget(snap, 0)!;
    assert.equal(b.allowed.size, 0);
    assert.deepEqual([...b.short.keys()], ["default/one", "default/two", "default/big"]);
  });
});

Deno.test("budgetSummary() says something only when the services left short change", () => {
  const short = new Map([["ns/a", "1/1"], ["ns/b", "2/3"]]);
  assert.equal(budgetSummary(short, new Map(short)), null);
  assert.deepEqual(budgetSummary(short, new Map()), {
    services: 2,
    listeners: 3,
    first: "ns/a, ns/b",
  });
  // Same services, another share: a new line.
  assert.equal(budgetSummary(short, new Map([["ns/a", "1/1"], ["ns/b", "1/3"]]))?.listeners, 3);
  // None left short: a summary of none, once.
  assert.deepEqual(budgetSummary(new Map(), short), { services: 0, listeners: 0, first: "" });
  assert.equal(budgetSummary(new Map(), new Map()), null);
});
