// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import {
  type FamilySnapshot,
  keepSeries,
  labelValue,
  MetricsRegistry,
} from "../../lib/metrics/mod.ts";

Deno.test("MetricsRegistry.addSource() sums another thread's series into ours", () => {
  const worker = new MetricsRegistry();
  worker.counter("conns_total", "Connections").inc({ service: "a" }, 3);
  worker.counter("conns_total", "Connections").inc({ service: "b" }, 1);
  worker.histogram("lat_seconds", "Latency", [0.1]).observe(undefined, 0.05);
  worker.gauge("only_there", "A family the main thread lacks").set(undefined, 2);
  let latest: FamilySnapshot[] = worker.snapshot();

  const main = new MetricsRegistry();
  main.counter("conns_total", "Connections").inc({ service: "a" }, 2);
  main.histogram("lat_seconds", "Latency", [0.1]).observe(undefined, 0.5);
  main.addSource(() => latest);
  const text = main.render();
  assert.match(text, /^conns_total\{service="a"\} 5$/m);
  assert.match(text, /^conns_total\{service="b"\} 1$/m);
  assert.match(text, /^lat_seconds_bucket\{le="0\.1"\} 1$/m);
  assert.match(text, /^lat_seconds_bucket\{le="\+Inf"\} 2$/m);
  assert.match(text, /^lat_seconds_count 2$/m);
  assert.match(text, /^# TYPE only_there gauge\nonly_there 2$/m);
  assert.equal(text.match(/# TYPE conns_total/g)?.length, 1, "one family header");
  // Our own snapshot excludes the sources (no double counting when passed on).
  assert.deepEqual(
    main.snapshot().find((f) => f.name === "conns_total")?.series,
    [['conns_total{service="a"}', 2]],
  );
  latest = [];
  assert.match(main.render(), /^conns_total\{service="a"\} 2$/m);
});

Deno.test("remove() drops one series of a counter, gauge or histogram; a later update starts from 0", () => {
  const registry = new MetricsRegistry();
  const a = { service: "ns/a" };
  const b = { service: "ns/b" };
  const counter = registry.counter("c_total", "C");
  counter.inc(a, 5);
  counter.inc(b, 1);
  counter.inc({ service: "ns/a", direction: "in" }, 7);
  const gauge = registry.gauge("g", "G");
  gauge.set(a, 3);
  gauge.set(b, 4);
  const histogram = registry.histogram("h_seconds", "H", [1]);
  histogram.observe(a, 0.5);
  histogram.observe(b, 2);

  // Exactly those labels: {service="ns/a",direction="in"} is another series.
  assert.equal(counter.remove({ service: "ns/a" }), true, "a fresh labels object matches");
  assert.equal(counter.remove(a), false, "already gone");
  assert.equal(gauge.remove(a), true);
  assert.equal(histogram.remove(a), true);
  const text = registry.render();
  assert.doesNotMatch(text, /\{service="ns\/a"\}|le="[^"]*",service="ns\/a"/, text);
  assert.match(text, /^c_total\{direction="in",service="ns\/a"\} 7$/m);
  assert.match(text, /^c_total\{service="ns\/b"\} 1$/m);
  assert.match(text, /^g\{service="ns\/b"\} 4$/m);
  assert.match(text, /^h_seconds_count\{service="ns\/b"\} 1$/m);
  assert.equal(text.match(/^h_seconds_/gm)?.length, 4, "ns/b's buckets, sum and count only");

  counter.inc(a);
  histogram.observe(a, 0.25);
  assert.equal(counter.get(a), 1);
  assert.equal(histogram.count(a), 1);
  assert.match(registry.render(), /^h_seconds_sum\{service="ns\/a"\} 0\.25$/m);
  assert.equal(counter.remove(), false, "no unlabelled series");
});

Deno.test("labelValue() reads one label of a rendered series, escapes included", () => {
  const registry = new MetricsRegistry();
  const odd = 'a"b\\c\nd,service="x"}';
  registry.counter("c_total", "C").inc({ service: odd, direction: "in" });
  registry.counter("c_total", "C").inc({ other: 'service="y"' });
  const [first, second] = registry.snapshot()[0]!.series.map(([k]) => k);
  assert.equal(labelValue(first!, "service"), odd);
  assert.equal(labelValue(first!, "direction"), "in");
  assert.equal(labelValue(second!, "service"), undefined, "only in a value");
  assert.equal(labelValue(second!, "other"), 'service="y"');
  assert.equal(labelValue("up 1", "service"), undefined);
  assert.equal(labelValue("up", "service"), undefined);
});

Deno.test("keepSeries() drops the series whose label a predicate rejects", () => {
  const worker = new MetricsRegistry();
  worker.counter("c_total", "C").inc({ service: "ns/live" }, 2);
  worker.counter("c_total", "C").inc({ service: "ns/gone" }, 3);
  worker.counter("c_total", "C").inc({ direction: "in" }, 4);
  worker.gauge("peers", "P").set({ peer: "n2" }, 1);
  const families = worker.snapshot();
  const kept = keepSeries(families, "service", (s) => s === "ns/live");
  assert.deepEqual(kept[0]!.series, [
    ['c_total{service="ns/live"}', 2],
    ['c_total{direction="in"}', 4],
  ]);
  assert.equal(kept[1], families[1], "a family without the label is passed on as is");
  assert.equal(families[0]!.series.length, 3, "the input is not changed");
});
