// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Micro-benchmark of the control plane and idle memory of the real agent (production flags,
 * real `ip`, a bridge `edge0`, DNS on 9.251.0.1:53) in a namespace it creates and removes:
 *
 * - start → ready, RSS and V8 heap (`/metrics`) idle with 0 services;
 * - 1000 services + endpoints over the control socket → replies → all VIPs accepting;
 * - RSS and heap idle with 1000 services;
 * - N single updates on top of 1000 (a new service + its endpoints: reply ms, accepting ms;
 *   an endpoints-only change of an existing service: reply ms).
 *
 * Run as root: `deno run -A bench/micro/control_update.ts [--services 1000] [--updates 10]
 * [--log-level info] [--keep]`. It re-runs itself inside `em-ctlmb-<random>` (the probes must
 * reach the VIPs) and prints one JSON line of results on stdout.
 * @module
 */
// deno-lint-ignore-file no-console
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type Agent, startAgent } from "../lib/agent.ts";
import { burstServices, endpointsObject, serviceChanges } from "../lib/k8s.ts";
import { waitAllAccepting, waitHttpOk } from "../lib/net.ts";
import { rerunInNetns } from "../lib/netns.ts";
import { sleep } from "../lib/proc.ts";
import { rssMiB } from "../lib/rss.ts";

const { values: args } = parseArgs({
  options: {
    services: { type: "string", default: "1000" },
    updates: { type: "string", default: "10" },
    "log-level": { type: "string", default: "info" },
    keep: { type: "boolean", default: false },
    inner: { type: "string" },
  },
});

async function heapUsed(metricsListen: string): Promise<number> {
  const text = await (await fetch(`http://${metricsListen}/metrics`)).text();
  const m = /^edgemesh_process_heap_used_bytes(?:\{[^}]*\})? (\S+)/m.exec(text);
  return m ? Number(m[1]) / 2 ** 20 : NaN;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

async function inner(dir: string): Promise<void> {
  const n = Number(args.services);
  const resolvConf = join(dir, "resolv.conf");
  await Deno.writeTextFile(resolvConf, "nameserver 127.0.0.1\n");
  const agent: Agent = await startAgent(Deno.execPath(), {
    name: "agent-micro",
    dir,
    config: {
      nodeName: "micro-node",
      dnsListen: ["9.251.0.1:53"],
      upstreams: ["127.0.0.1:53"],
      resolvConf,
      metricsListen: "127.0.0.1:9560",
      logLevel: args["log-level"],
    },
  });
  const out: Record<string, number | number[]> = {};
  try {
    out.startReady = await waitHttpOk("http://127.0.0.1:9560/readyz", 60_000, () => true) -
      agent.proc.spawnedAt;
    await sleep(1000);
    out.rssIdle0 = rssMiB(agent.proc.pid) ?? NaN;
    out.heapIdle0 = await heapUsed(agent.metricsListen);

    const burst = burstServices(0, n);
    const t0 = performance.now();
    await agent.apply(burst.flatMap(serviceChanges));
    out.reply = performance.now() - t0;
    const vips = await agent.vips("burst");
    await waitAllAccepting(
      burst.map((s) => ({ host: vips.get(`burst/${s.name}`)!, port: 80 })),
      60_000,
    );
    out.accepting = performance.now() - t0;
    await sleep(1500);
    out.rssIdleN = rssMiB(agent.proc.pid) ?? NaN;
    out.heapIdleN = await heapUsed(agent.metricsListen);

    const addReply: number[] = [];
    const addAccept: number[] = [];
    const epReply: number[] = [];
    for (let i = 0; i < Number(args.updates); i++) {
      const extra = burstServices(n + i, 1);
      const t1 = performance.now();
      await agent.apply(extra.flatMap(serviceChanges));
      addReply.push(performance.now() - t1);
      const vip = (await agent.vips("burst", extra[0]!.name)).get(`burst/${extra[0]!.name}`)!;
      await waitAllAccepting([{ host: vip, port: 80 }], 30_000);
      addAccept.push(performance.now() - t1);
      await sleep(100);
      // An endpoints-only change of an existing service (no VIP change).
      const s = burst[i]!;
      const moved = { ...s, endpoints: [{ ip: "192.0.2.1" }, { ip: "192.0.2.2" }] };
      const t2 = performance.now();
      await agent.apply([{
        operation: "update",
        resource: `burst/endpoints/${s.name}`,
        content: endpointsObject(moved),
      }]);
      epReply.push(performance.now() - t2);
      await sleep(100);
    }
    out.addReply = addReply.map((x) => Math.round(x * 10) / 10);
    out.addAccept = addAccept.map((x) => Math.round(x * 10) / 10);
    out.epReply = epReply.map((x) => Math.round(x * 10) / 10);
    out.addReplyMedian = median(addReply);
    out.addAcceptMedian = median(addAccept);
    out.epReplyMedian = median(epReply);
    await sleep(1000);
    out.rssIdleEnd = rssMiB(agent.proc.pid) ?? NaN;
    const st = await agent.stop();
    out.stopMs = st.ms;
    out.exitCode = st.code;
  } finally {
    if (!agent.proc.done()) await agent.stop();
  }
  console.log(JSON.stringify(out));
}

async function outer(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "em-ctlmb-" });
  try {
    const r = await rerunInNetns("ctlmb", import.meta.filename!, () => [
      "--inner",
      dir,
      "--services",
      String(args.services),
      "--updates",
      String(args.updates),
      "--log-level",
      String(args["log-level"]),
    ]);
    if (!r.success) console.error(`inner run failed (code ${r.code}); logs in ${dir}`);
  } finally {
    if (!args.keep) await Deno.remove(dir, { recursive: true });
    else console.error(`kept ${dir}`);
  }
}

if (args.inner) await inner(args.inner);
else await outer();
