// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/** The soak harness's pure parts: verdicts, tables, end checks, churn steps, parsers. */
import assert from "node:assert/strict";
import {
  type AgentSample,
  endChecks,
  growthOf,
  growthTable,
  type Measure,
  samplesTable,
  slope,
} from "../soak/report.ts";
import { emptyPool, type PoolState, step } from "../soak/churn.ts";
import {
  listenSockets,
  metricValue,
  orphanSeries,
  seriesCount,
  vipListeners,
} from "../soak/sample.ts";

const EMPTY: AgentSample = {
  t: 0,
  vmRssMiB: null,
  rssAnonMiB: null,
  rssFileMiB: null,
  fds: null,
  otherFds: null,
  threads: null,
  addresses: null,
  vips: null,
  listeners: null,
  listenSockets: null,
  wantedListeners: null,
  series: null,
  orphanSeries: null,
  heapMiB: null,
};
const FDS: Measure = { key: "fds", label: "fds", abs: 8, rel: 0.05 };
const at = (t: number, fds: number | null): AgentSample => ({ ...EMPTY, t, fds });

Deno.test("slope() fits the least-squares line", () => {
  assert.equal(slope([[0, 1], [1, 3], [2, 5]]), 2);
  assert.equal(slope([[0, 1]]), null);
  assert.equal(slope([[1, 1], [1, 2]]), null);
});

Deno.test("growthOf() calls a measure growing only when growth and trend both pass the bound", async (t) => {
  const cases: { name: string; fds: (number | null)[]; want: string }[] = [
    { name: "steady climb", fds: [100, 110, 120, 130, 140], want: "growing" },
    { name: "flat with noise", fds: [100, 104, 98, 103, 101], want: "flat" },
    {
      name: "one spike at the end is growth without a trend",
      fds: [...Array(10).fill(100), 115],
      want: "flat",
    },
    { name: "rose then fell back", fds: [100, 140, 160, 140, 100], want: "flat" },
    { name: "below the absolute bound", fds: [10, 12, 14, 16, 18], want: "flat" },
    { name: "one sample", fds: [100, null], want: "n/a" },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const g = growthOf(FDS, c.fds.map((v, i) => at(i * 30, v)));
      assert.equal(g.verdict, c.want);
    });
  }
  const pool = growthOf(
    { ...FDS, followsPool: true },
    [100, 110, 120, 130].map((v, i) => at(i, v)),
  );
  assert.equal(pool.verdict, "follows pool");
  const g = growthOf(FDS, [at(0, 100), at(1800, 130)]);
  assert.equal(g.growth, 30);
  assert.equal(g.slopePerHour, 60);
});

Deno.test("growthOf() judges a measure that swings with GC on its lows, not a peak", async (t) => {
  const HEAP: Measure = { key: "heapMiB", label: "heap", abs: 4, rel: 0.15, swings: true };
  const cases: { name: string; heap: number[]; want: string; growth: number }[] = [
    // The 3-minute run of 2026-11-27 (agent A): its last sample was a peak before a collection.
    {
      name: "sawtooth ending on a peak",
      heap: [21.6, 30.2, 24.3, 21.9, 39.8],
      want: "flat",
      growth: 0.3,
    },
    { name: "rising lows", heap: [20, 30, 25, 35, 30, 40], want: "growing", growth: 10 },
    { name: "steady", heap: [20, 20.5, 21, 20, 20.5, 21], want: "flat", growth: 0.5 },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const g = growthOf(HEAP, c.heap.map((v, i) => ({ ...EMPTY, t: i * 30, heapMiB: v })));
      assert.equal(g.verdict, c.want);
      assert.ok(Math.abs((g.growth ?? NaN) - c.growth) < 1e-9, `growth ${g.growth}`);
    });
  }
  // The same samples judged as an ordinary measure: the peak reads as growth.
  const plain = growthOf(
    { ...HEAP, swings: false },
    [21.6, 30.2, 24.3, 21.9, 39.8].map((v, i) => ({ ...EMPTY, t: i * 30, heapMiB: v })),
  );
  assert.equal(plain.verdict, "growing");
});

Deno.test("samplesTable() and growthTable() render Markdown with a dash for missing values", () => {
  const table = samplesTable([at(-1, 38), at(30, null)]);
  const lines = table.split("\n");
  assert.equal(lines.length, 4);
  assert.match(lines[0]!, /^\| t \(s\) \| VmRSS MiB \|/);
  assert.match(lines[2]!, /^\| -1 \| – \|/);
  const growth = growthTable([growthOf(FDS, [at(0, 100), at(30, 130), at(60, 160)])]);
  assert.match(growth, /\| fds \| 100 \| 160 \| \+60 \| 3600 \| growing \|/);
});

Deno.test("endChecks() wants no listener, only the DNS address and the idle fds within the slack", () => {
  const idle = { ...EMPTY, fds: 38 };
  const good = { ...EMPTY, fds: 45, listeners: 0, listenSockets: 0, addresses: 1 };
  assert.deepEqual(endChecks(idle, good, 12).map((c) => c.ok), [true, true, true, true]);
  const bad = { ...good, fds: 60, listenSockets: 2, addresses: 3 };
  assert.deepEqual(endChecks(idle, bad, 12).map((c) => c.ok), [true, false, false, false]);
});

Deno.test("step() keeps the pool near its target and every change names a pool service", () => {
  let seed = 7;
  const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  let pool: PoolState = emptyPool(26);
  const backends = { a: "10.0.0.1", b: "10.0.0.2" };
  const kinds = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const r = step(pool, 15, backends, random);
    pool = r.pool;
    kinds.add(r.kind);
    assert.ok(r.changes.length >= 1);
    for (const c of r.changes) assert.match(c.resource, /^soak\/(service|endpoints)\/p-0\d\d$/);
    if (i > 100) assert.ok(pool.alive.size >= 4 && pool.alive.size <= 26, String(pool.alive.size));
  }
  assert.deepEqual([...kinds].sort(), ["create", "delete", "move", "ports", "ready"]);
});

Deno.test("seriesCount(), metricValue(), vipListeners() and listenSockets() read the agent's output", () => {
  const metrics =
    '# HELP x y\n# TYPE x gauge\nx 1\nedgemesh_process_heap_used_bytes 2048\ny{a="b"} 3\n';
  assert.equal(seriesCount(metrics), 3);
  assert.equal(metricValue(metrics, "edgemesh_process_heap_used_bytes"), 2048);
  assert.equal(metricValue(metrics, "absent"), null);
  const proxy = [
    "# HELP edgemesh_proxy_listeners x",
    'edgemesh_proxy_listeners{service="soak/a"} 1',
    'edgemesh_proxy_bytes_total{direction="in",service="soak/gone"} 5',
    'edgemesh_proxy_bytes_total{direction="out",service="soak/gone"} 5',
    "edgemesh_registry_services 1",
  ].join("\n");
  assert.equal(orphanSeries(proxy, new Set(["soak/a"])), 2);
  assert.deepEqual(
    vipListeners(
      [
        "/run/e.sock (control)",
        "9.251.0.1:53/tcp (dns)",
        "9.251.0.2:80/tcp soak/a",
        "10.205.0.1:40001/tcp (tunnel)",
      ],
      "9.251.0.1",
    ),
    ["9.251.0.2:80/tcp soak/a"],
  );
  const tcp = [
    "  sl  local_address rem_address   st",
    "   0: 0100FB09:0035 00000000:0000 0A",
    "   1: 0200FB09:0050 00000000:0000 0A",
    "   2: 0200FB09:0050 0100007F:9C40 01",
    "   3: 0100007F:2558 00000000:0000 0A",
  ].join("\n");
  assert.equal(listenSockets(tcp, "9.251", "9.251.0.1"), 1);
});
