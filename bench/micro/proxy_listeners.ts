// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Memory of the proxy's listeners: RSS and V8 heap before and after `Proxy.update()` with N
 * services (one TCP port, one endpoint each) on loopback VIPs 127.200.x.y, so the cost per
 * VIP:port listener (socket, accept loop, route, balancer, metric labels) is visible without
 * the rest of the agent.
 *
 * Usage: `deno run -A --v8-flags=--expose-gc bench/micro/proxy_listeners.ts [N=1000]`
 * @module
 */
import { nullLogger } from "../../lib/log/mod.ts";
import { MetricsRegistry } from "../../lib/metrics/mod.ts";
import { Proxy } from "../../lib/proxy/mod.ts";
import type { Snapshot } from "../../lib/registry/model.ts";
import { oneEndpointSnapshot } from "../lib/snapshot.ts";

const n = Number(Deno.args[0] ?? 1000);
const gc = (globalThis as { gc?: () => void }).gc;

function sample(): { rss: number; heap: number } {
  gc?.();
  const m = Deno.memoryUsage();
  return { rss: m.rss / 2 ** 20, heap: m.heapUsed / 2 ** 20 };
}

function snapshot(count: number): Snapshot {
  return oneEndpointSnapshot(Array.from({ length: count }, (_, i) => ({
    namespace: "bench",
    name: `svc-${i}`,
    vip: `127.200.${Math.floor(i / 250)}.${(i % 250) + 1}`,
    port: 80,
    targetPort: 8080,
    endpointIp: "127.0.0.1",
  })));
}

const snap = snapshot(n);
const before = sample();
const proxy = new Proxy({ nodeName: "bench", log: nullLogger, metrics: new MetricsRegistry() });
await proxy.update(snap);
const bound = proxy.listeners().filter((l) => l.bound).length;
const after = sample();
const per = (a: number, b: number) => ((b - a) * 1024 / n).toFixed(1);
// deno-lint-ignore no-console
console.log(
  `${bound}/${n} listeners bound: RSS ${before.rss.toFixed(1)} → ${after.rss.toFixed(1)} MiB ` +
    `(${per(before.rss, after.rss)} KiB each), V8 heap ${before.heap.toFixed(1)} → ` +
    `${after.heap.toFixed(1)} MiB (${per(before.heap, after.heap)} KiB each)`,
);
await proxy.close();
