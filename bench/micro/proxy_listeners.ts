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
import type { ServiceEntry, Snapshot } from "../../lib/registry/model.ts";

const n = Number(Deno.args[0] ?? 1000);
const gc = (globalThis as { gc?: () => void }).gc;

function sample(): { rss: number; heap: number } {
  gc?.();
  const m = Deno.memoryUsage();
  return { rss: m.rss / 2 ** 20, heap: m.heapUsed / 2 ** 20 };
}

function snapshot(count: number): Snapshot {
  const services = new Map<string, ServiceEntry>();
  const vips = new Map<string, string>();
  for (let i = 0; i < count; i++) {
    const vip = `127.200.${Math.floor(i / 250)}.${(i % 250) + 1}`;
    const key = `bench/svc-${i}`;
    services.set(key, {
      service: {
        namespace: "bench",
        name: `svc-${i}`,
        kind: { type: "ClusterIP" },
        ports: [{
          name: "http",
          protocol: "TCP",
          port: 80,
          targetPort: { kind: "number", port: 8080 },
        }],
        sessionAffinity: { type: "None" },
      },
      vip,
      endpoints: [{
        ip: "127.0.0.1",
        ready: true,
        nodeName: null,
        hostname: null,
        podName: null,
        ports: [],
      }],
      endpointSource: "endpoints",
    });
    vips.set(vip, key);
  }
  return { version: 1, services, nodes: new Map(), vips };
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
