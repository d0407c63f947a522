// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Where the agent's memory goes with N services (+ endpoints): builds the parts one after the
 * other in this process and prints, after a full GC, the growth of V8's used heap, external
 * memory and RSS each part caused:
 *
 * 1. the registry (records, entries, snapshot, memoised record JSON);
 * 2. the DNS zone built from the snapshot;
 * 3. the proxy with its N listeners (on a 127.x subnet: binds on loopback without a device);
 * 4. rendering `/metrics` once.
 *
 * Run: `deno run -A --v8-flags=--expose-gc bench/micro/memory_breakdown.ts [--services 1000]`.
 * Binds only loopback addresses; nothing outside this process changes.
 * @module
 */
// deno-lint-ignore-file no-console
import { parseArgs } from "node:util";
import { buildZone } from "../../lib/dns/mod.ts";
import { nullLogger } from "../../lib/log/mod.ts";
import { MetricsRegistry } from "../../lib/metrics/mod.ts";
import { Proxy } from "../../lib/proxy/mod.ts";
import { Registry } from "../../lib/registry/mod.ts";
import { endpointsObject, serviceObject } from "../lib/k8s.ts";

const { values: args } = parseArgs({ options: { services: { type: "string", default: "1000" } } });
const n = Number(args.services);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("Run with --v8-flags=--expose-gc");

function settle(): Deno.MemoryUsage {
  for (let i = 0; i < 3; i++) gc!();
  return Deno.memoryUsage();
}
const mib = (b: number) => Math.round(b / 2 ** 20 * 100) / 100;
const rows: Record<string, unknown>[] = [];
let last = settle();
const start = last;
function step(name: string): void {
  const now = settle();
  rows.push({
    step: name,
    heapUsedMiB: mib(now.heapUsed - last.heapUsed),
    externalMiB: mib(now.external - last.external),
    rssMiB: mib(now.rss - last.rss),
    perServiceKiB: Math.round((now.heapUsed - last.heapUsed) / n / 1024 * 100) / 100,
  });
  last = now;
}

const dir = await Deno.makeTempDir({ prefix: "em-membd-" });
const metrics = new MetricsRegistry();
const registry = await Registry.open({
  stateDir: dir,
  subnet: "127.80.0.0/20",
  log: nullLogger,
  metrics,
});
const proxy = new Proxy({ nodeName: "n", log: nullLogger, metrics });
try {
  step("baseline (modules loaded)");
  const applies: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const s = {
      namespace: "burst",
      name: `svc-${i}`,
      ports: [{ name: "http", port: 80, targetPort: 8080 }],
      endpoints: [{ ip: "192.0.2.1" }],
    };
    for (
      const [type, content] of [["service", serviceObject(s)], [
        "endpoints",
        endpointsObject(s),
      ]] as const
    ) {
      applies.push(
        registry.apply({ operation: "insert", namespace: "burst", type, name: s.name, content }),
      );
    }
  }
  await Promise.all(applies);
  step(`registry with ${n} services + endpoints`);
  const zone = buildZone(registry.snapshot());
  step("DNS zone");
  await proxy.update(registry.snapshot());
  await new Promise((r) => setTimeout(r, 200));
  step(`proxy with ${proxy.listeners().length} listeners`);
  const text = metrics.render();
  step(`metrics rendered (${text.length} bytes kept)`);
  console.table(rows);
  const end = Deno.memoryUsage();
  console.log(JSON.stringify({
    totalHeapUsedMiB: mib(end.heapUsed - start.heapUsed),
    heapUsedMiB: mib(end.heapUsed),
    heapTotalMiB: mib(end.heapTotal),
    rssMiB: mib(end.rss),
    zoneNames: zone.names.size,
  }));
} finally {
  await proxy.close();
  await registry.close();
  await Deno.remove(dir, { recursive: true });
}
