// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { Results } from "../lib/results.ts";
import { evaluateTargets, type Target } from "../lib/targets.ts";
import { cell, renderGroup, renderReport, renderTargets } from "../table.ts";

const GBPS = { key: "gbps", label: "Gbit/s", digits: 2, higherIsBetter: true };

function throughput(): Results {
  const r = new Results();
  r.declare({
    id: "tcp-1",
    scenario: 1,
    title: "TCP throughput, 1 stream",
    reference: "direct",
    metrics: [GBPS],
    systems: ["direct", "edgemesh", "haproxy"],
  });
  [[20, 10, 8], [10, 5, 4], [20, 11, 8]].forEach(([d, e, h], rep) => {
    r.record("tcp-1", "direct", rep, { gbps: d as number });
    r.record("tcp-1", "edgemesh", rep, { gbps: e as number });
    r.record("tcp-1", "haproxy", rep, { gbps: h as number });
  });
  return r;
}

Deno.test("Results.record() rejects unknown groups and metrics, fail() keeps a null sample", async (t) => {
  const r = throughput();
  await t.step(
    "unknown group",
    () => assert.throws(() => r.record("nope", "x", 0, {}), /not declared/),
  );
  await t.step(
    "unknown metric",
    () => assert.throws(() => r.record("tcp-1", "x", 0, { rps: 1 }), /unknown metric "rps"/),
  );
  await t.step("non-finite value is stored as a failure", () => {
    r.record("tcp-1", "nginx", 1, { gbps: NaN });
    assert.deepEqual(r.series("tcp-1", "nginx", "gbps"), [null, null]);
  });
  await t.step("fail", () => {
    r.fail("tcp-1", "nginx", 0, "iperf3 failed");
    assert.deepEqual(r.errors, [{
      group: "tcp-1",
      system: "nginx",
      rep: 0,
      message: "iperf3 failed",
    }]);
  });
});

Deno.test("cell() prints median (min–max) and marks partial and failed series", async (t) => {
  await t.step("full", () => assert.equal(cell([1, 3, 2], GBPS), "2.00 (1.00–3.00)"));
  await t.step("partial", () => assert.equal(cell([1, null, 3], GBPS), "2.00 (1.00–3.00) [2/3]"));
  await t.step("single", () => assert.equal(cell([1.5], GBPS), "1.50"));
  await t.step("failed", () => assert.equal(cell([null, null], GBPS), "failed"));
  await t.step("never measured", () => assert.equal(cell([], GBPS), "–"));
});

Deno.test("renderGroup() prints a row per system with the paired ratio to the reference", () => {
  const md = renderGroup(throughput(), throughput().groups[0]!);
  assert.equal(
    md,
    [
      "### 1. TCP throughput, 1 stream",
      "",
      "| system | Gbit/s | ×direct |",
      "| --- | ---: | ---: |",
      "| direct | 20.00 (10.00–20.00) | 1.00 |",
      "| edgemesh | 10.00 (5.00–11.00) | 0.50 |",
      "| haproxy | 8.00 (4.00–8.00) | 0.40 |",
    ].join("\n"),
  );
});

Deno.test("evaluateTargets() compares paired ratios and medians with their bounds", async (t) => {
  const r = throughput();
  r.declare({
    id: "memory",
    scenario: 7,
    title: "Memory",
    metrics: [{ key: "rss", label: "MiB", digits: 1, higherIsBetter: false }],
    systems: ["edgemesh"],
  });
  r.record("memory", "edgemesh", 0, { rss: 40 });
  r.record("memory", "edgemesh", 1, { rss: 70 });
  r.record("memory", "edgemesh", 2, { rss: 45 });
  const targets: Target[] = [
    {
      kind: "relative",
      label: "vs HAProxy",
      group: "tcp-1",
      metric: "gbps",
      system: "edgemesh",
      versus: "haproxy",
      op: ">=",
      bound: 1.3,
    },
    {
      kind: "relative",
      label: "too high",
      group: "tcp-1",
      metric: "gbps",
      system: "edgemesh",
      versus: "haproxy",
      op: ">=",
      bound: 1.5,
    },
    {
      kind: "absolute",
      label: "RSS",
      group: "memory",
      metric: "rss",
      system: "edgemesh",
      op: "<=",
      bound: 50,
      unit: "MiB",
    },
    {
      kind: "absolute",
      label: "missing",
      group: "nope",
      metric: "x",
      system: "edgemesh",
      op: "<=",
      bound: 1,
      unit: "ms",
    },
  ];
  const out = evaluateTargets(r, targets);
  await t.step("relative: median of per-repetition ratios", () => {
    // Per-repetition ratios 1.25, 1.25, 1.375 → median 1.25, below the 1.3 bound.
    assert.equal(out[0]?.value, 1.25);
    assert.equal(out[0]?.pass, false);
  });
  await t.step("relative: above the bound fails", () => assert.equal(out[1]?.pass, false));
  await t.step("absolute uses the median", () => {
    assert.equal(out[2]?.value, 45);
    assert.equal(out[2]?.pass, true);
  });
  await t.step("unmeasured", () => assert.deepEqual([out[3]?.value, out[3]?.pass], [null, null]));
  await t.step("rendered with marks", () => {
    const md = renderTargets(out);
    assert.match(md, /\| vs HAProxy ≥ 1\.3 \| 1\.25 \| ✗ \|/);
    assert.match(md, /\| RSS ≤ 50 MiB \| 45\.0 MiB \| ✓ \|/);
    assert.match(md, /\| missing ≤ 1 ms \| not measured \| – \|/);
  });
});

Deno.test("renderReport() lists failed measurements and notes after the tables", () => {
  const r = throughput();
  r.fail("tcp-1", "haproxy", 2, "iperf3 exited");
  r.notes.push("agent exited with code 1");
  const md = renderReport(r, [], "Run");
  assert.match(md, /^## Run\n/);
  assert.match(md, /- tcp-1 \/ haproxy \/ rep 3: iperf3 exited/);
  assert.match(md, /### Notes\n\n- agent exited with code 1/);
});
