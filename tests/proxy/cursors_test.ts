// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { CursorTable } from "../../lib/proxy/mod.ts";
import { snapshotOf } from "../_helpers/proxy_fixtures.ts";

const svc = (name: string, ports: number[], vip: string | null = "127.9.0.1") => ({
  name,
  vip,
  ports: ports.map((port) => ({ name: `p${port}`, port })),
  endpoints: [],
});

Deno.test("CursorTable gives each TCP service port a cell and keeps it across snapshots", () => {
  const table = new CursorTable(4);
  const first = table.assign(snapshotOf(svc("a", [80, 443]), svc("b", [80])));
  assert.deepEqual(first.map(([s, p]) => `${s}:${p}`).sort(), [
    "default/a:443",
    "default/a:80",
    "default/b:80",
  ]);
  assert.equal(new Set(first.map(([, , c]) => c)).size, 3, "distinct cells");
  const cellOfB = table.cursorOf("default/b", 80)!.index;
  Atomics.store(table.cells, cellOfB, 7);
  // b keeps its cell (and position); a:443 goes away and its cell is reused, reset to 0.
  const second = table.assign(snapshotOf(svc("a", [80]), svc("b", [80]), svc("c", [80])));
  assert.equal(table.cursorOf("default/b", 80)!.index, cellOfB);
  assert.equal(Atomics.load(table.cells, cellOfB), 7);
  assert.equal(table.cursorOf("default/a", 443), undefined);
  const cellOfC = table.cursorOf("default/c", 80)!.index;
  assert.equal(Atomics.load(table.cells, cellOfC), 0);
  assert.equal(second.length, 3);
});

Deno.test("CursorTable skips services without a VIP and runs out of cells gracefully", () => {
  const table = new CursorTable(1);
  const slots = table.assign(snapshotOf(svc("novip", [80], null), svc("a", [80]), svc("b", [80])));
  assert.equal(slots.length, 1, "one cell: the second service port keeps per-thread positions");
  assert.equal(table.cursorOf("default/novip", 80), undefined);
});
