// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { type FamilySnapshot, MetricsRegistry } from "../../lib/metrics/mod.ts";

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
