// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Where the time of one control-plane change goes, with 1000 services: runs `runAgent`
 * in-process (real `ip`, a bridge `edge0`, DNS on 9.251.0.1:53) inside a namespace it creates
 * and removes, wraps the public entry points of every stage with timers (registry write,
 * netdev reconcile, proxy update, DNS update, tunnel update), sends 1000 services + endpoints,
 * then single changes, and prints per-stage medians (ms) and heap figures as JSON.
 *
 * Run as root: `deno run -A bench/micro/control_profile.ts [--services 1000] [--updates 20]`.
 * Measurement only: nothing here changes how the agent behaves.
 * @module
 */
// deno-lint-ignore-file no-console no-explicit-any
import { join } from "node:path";
import { parseArgs } from "node:util";
import { runAgent } from "../../lib/agent/mod.ts";
import { parseConfig } from "../../lib/config/mod.ts";
import { buildMessage, ControlClient } from "../../lib/control/mod.ts";
import { DnsServer } from "../../lib/dns/mod.ts";
import { nullLogger } from "../../lib/log/mod.ts";
import { NetDev } from "../../lib/netdev/mod.ts";
import { Proxy } from "../../lib/proxy/mod.ts";
import { denoStateFs } from "../../lib/registry/store.ts";
import { rerunInNetns } from "../lib/netns.ts";
import { burstServices, endpointsObject, serviceChanges } from "../lib/k8s.ts";
import { waitAllAccepting } from "../lib/net.ts";
import { sleep } from "../lib/proc.ts";

const { values: args } = parseArgs({
  options: {
    services: { type: "string", default: "1000" },
    updates: { type: "string", default: "20" },
    inner: { type: "string" },
  },
});

const samples = new Map<string, number[]>();
function record(stage: string, ms: number): void {
  let s = samples.get(stage);
  if (!s) samples.set(stage, s = []);
  s.push(ms);
}
function wrap(obj: any, method: string, stage: string): void {
  const orig = obj[method];
  obj[method] = function (this: unknown, ...a: unknown[]) {
    const t = performance.now();
    const r = orig.apply(this, a);
    if (r && typeof r.then === "function") {
      return r.finally(() => record(stage, performance.now() - t));
    }
    record(stage, performance.now() - t);
    return r;
  };
}
wrap(denoStateFs, "writeAtomic", "registry.writeAtomic");
wrap(denoStateFs, "append", "registry.append");
wrap(NetDev.prototype, "reconcile", "netdev.reconcile");
wrap(Proxy.prototype, "update", "proxy.update");
wrap(DnsServer.prototype, "update", "dns.update");

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round((s[Math.floor(s.length / 2)] ?? NaN) * 100) / 100;
}

async function send(socket: string, changes: ReturnType<typeof serviceChanges>): Promise<void> {
  const client = await ControlClient.connect(socket);
  try {
    const replies = await Promise.all(changes.map((c) => client.send(buildMessage(c))));
    const bad = replies.find((r) => !r.ok);
    if (bad) throw new Error(`rejected: ${bad.error}`);
  } finally {
    await client.close();
  }
}

async function vipOf(socket: string, name: string): Promise<string> {
  const client = await ControlClient.connect(socket);
  try {
    const r = await client.send(
      buildMessage({ operation: "query", resource: `burst/services/${name}` }),
    );
    return (r.content as { vip: string }[])[0]!.vip;
  } finally {
    await client.close();
  }
}

async function inner(dir: string): Promise<void> {
  const n = Number(args.services);
  const config = parseConfig({
    stateDir: join(dir, "state"),
    controlSocket: join(dir, "run", "edgemesh.sock"),
    dnsListen: ["9.251.0.1:53"],
    upstreams: ["127.0.0.1:53"],
    metricsListen: "",
    nodeName: "micro-node",
  }, { hostname: "ignored" });
  const ac = new AbortController();
  const { promise: ready, resolve } = Promise.withResolvers<void>();
  const done = runAgent({ config, log: nullLogger, signal: ac.signal, onReady: resolve });
  await ready;
  const out: Record<string, unknown> = {};
  try {
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    out.heapIdle0 = Deno.memoryUsage().heapUsed / 2 ** 20;
    const burst = burstServices(0, n);
    const t0 = performance.now();
    await send(config.controlSocket, burst.flatMap(serviceChanges));
    out.burstReply = performance.now() - t0;
    samples.clear();
    await sleep(1500);
    gc?.();
    out.heapIdleN = Deno.memoryUsage().heapUsed / 2 ** 20;
    out.rssN = Deno.memoryUsage().rss / 2 ** 20;
    const addReply: number[] = [];
    const addAccept: number[] = [];
    const epReply: number[] = [];
    for (let i = 0; i < Number(args.updates); i++) {
      const extra = burstServices(n + i, 1);
      const t1 = performance.now();
      await send(config.controlSocket, extra.flatMap(serviceChanges));
      addReply.push(performance.now() - t1);
      const vip = await vipOf(config.controlSocket, extra[0]!.name);
      await waitAllAccepting([{ host: vip, port: 80 }], 30_000);
      addAccept.push(performance.now() - t1);
      await sleep(50);
      const s = burst[i]!;
      const t2 = performance.now();
      await send(config.controlSocket, [{
        operation: "update",
        resource: `burst/endpoints/${s.name}`,
        content: endpointsObject({ ...s, endpoints: [{ ip: "192.0.2.1" }, { ip: "192.0.2.2" }] }),
      }]);
      epReply.push(performance.now() - t2);
      await sleep(50);
    }
    out.addReply = median(addReply);
    out.addAccept = median(addAccept);
    out.epReply = median(epReply);
    for (const [stage, xs] of samples) out[stage] = { median: median(xs), n: xs.length };
  } finally {
    ac.abort();
    await done;
  }
  console.log(JSON.stringify(out, null, 1));
}

async function outer(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "em-ctlpf-" });
  try {
    const r = await rerunInNetns("ctlpf", import.meta.filename!, () => [
      "--inner",
      dir,
      "--services",
      String(args.services),
      "--updates",
      String(args.updates),
    ], ["--unstable-net", "--v8-flags=--expose-gc"]);
    if (!r.success) console.error(`inner run failed (code ${r.code})`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (args.inner) await inner(args.inner);
else await outer();
