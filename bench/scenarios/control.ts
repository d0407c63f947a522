// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Scenario 5 (control plane) and the start/idle-memory parts of scenario 7, measured on a
 * fresh agent per repetition: start → `/readyz` 200, idle RSS with 0 services, 1000 services
 * (+ endpoints) sent over the control socket → all 1000 VIPs accepting, one more service on
 * top → its VIP accepting (VIPs read back with one control-socket query after the replies), idle RSS with 1000 services, SIGTERM → exit.
 * @module
 */
import { join } from "node:path";
import { type Agent, READY_LINE, startAgent } from "../lib/agent.ts";
import type { HostPort } from "../lib/baselines.ts";
import { attempt, type BenchContext } from "../lib/context.ts";
import { type BenchService, serviceChanges } from "../lib/k8s.ts";
import { waitAllAccepting, waitHttpOk } from "../lib/net.ts";
import { sleep } from "../lib/proc.ts";
import { rssMiB } from "../lib/rss.ts";

/** Services created in one burst (issue 7: 1000). */
export const BURST = 1000;

/** Wait after the 1000-service burst before "idle" RSS is read, ms. */
const IDLE_SETTLE_MS = 35_000;

/** Memory/start metrics (scenario 7); the long-lived agent of scenarios 1–4 adds peaks. */
export const MEMORY_GROUP = {
  id: "memory",
  scenario: 7,
  title: "Memory and start (edgemesh agent)",
  metrics: [
    { key: "startReady", label: "start→ready ms", digits: 0, higherIsBetter: false },
    { key: "rssIdle0", label: "RSS idle, 0 svc MiB", digits: 1, higherIsBetter: false },
    {
      key: "rssBurst1000",
      label: `RSS 1 s after ${BURST} svc MiB`,
      digits: 1,
      higherIsBetter: false,
    },
    { key: "rssIdle1000", label: `RSS idle, ${BURST} svc MiB`, digits: 1, higherIsBetter: false },
    // How much of it is file-backed (the deno binary's own pages under `deno run`).
    { key: "rssFileIdle1000", label: "of which file-backed MiB", digits: 1, higherIsBetter: false },
    { key: "rssPeak1to4", label: "RSS peak 1–4 MiB", digits: 1, higherIsBetter: false },
    { key: "rssPeakDns", label: "RSS peak DNS MiB", digits: 1, higherIsBetter: false },
  ],
  systems: ["edgemesh"],
} as const;

/** What the control scenario needs from the environment. */
export interface ControlSetup {
  /** Config keys of the agent (subnet, DNS, metrics, upstreams …). */
  readonly config: Readonly<Record<string, unknown>>;
  /** The agent's DNS server, used to find each service's VIP. */
  readonly dns: HostPort;
  /** The HTTP backend every service points at. */
  readonly backend: HostPort;
}

/**
 * Start-to-ready in ms of a freshly spawned agent: polls `/readyz` every 5 ms. Fails fast when
 * the agent logs "agent ready" but `/readyz` still does not answer 5 s later.
 */
export async function waitReady(agent: Agent): Promise<number> {
  const url = `http://${agent.metricsListen}/readyz`;
  let giveUp = false;
  const logged = agent.proc.waitForLine(READY_LINE, 60_000).then(() => sleep(5000)).then(() => {
    giveUp = true;
  }, () => {});
  try {
    const at = await waitHttpOk(url, 60_000, () => !agent.proc.done() && !giveUp);
    return at - agent.proc.spawnedAt;
  } catch (err) {
    if (giveUp) {
      throw new Error(`The agent logged "agent ready" but ${url} did not answer 200 within 5 s`);
    }
    throw err;
  } finally {
    void logged;
  }
}

function vipOf(vips: ReadonlyMap<string, string>, s: BenchService): string {
  const vip = vips.get(`${s.namespace}/${s.name}`);
  if (vip === undefined) throw new Error(`The agent reports no VIP for "${s.namespace}/${s.name}"`);
  return vip;
}

function burstServices(backend: HostPort, from: number, count: number): BenchService[] {
  return Array.from({ length: count }, (_, i) => ({
    namespace: "burst",
    name: `svc-${from + i}`,
    ports: [{ name: "http", port: 80, targetPort: backend.port }],
    endpoints: [{ ip: backend.host }],
  }));
}

/** Runs scenario 5 (and start/idle RSS of scenario 7) `ctx.reps` times. */
export async function runControl(ctx: BenchContext, setup: ControlSetup): Promise<void> {
  ctx.results.declare({
    id: "control",
    scenario: 5,
    title: `Control plane: ${BURST} services + endpoints over the control socket`,
    metrics: [
      {
        key: "apply1000",
        label: `send→all ${BURST} accepting ms`,
        digits: 0,
        higherIsBetter: false,
      },
      { key: "reply1000", label: "send→all replies ms", digits: 0, higherIsBetter: false },
      {
        key: "update1",
        label: `+1 service on ${BURST}: accepting ms`,
        digits: 1,
        higherIsBetter: false,
      },
      { key: "update1Reply", label: "+1 service: reply ms", digits: 1, higherIsBetter: false },
      { key: "stop", label: "SIGTERM→exit ms", digits: 0, higherIsBetter: false },
    ],
    systems: ["edgemesh"],
  });
  ctx.results.declare(MEMORY_GROUP);
  for (let rep = 0; rep < ctx.reps; rep++) {
    ctx.log(`scenario 5/7: fresh agent, rep ${rep + 1}`);
    const dir = join(ctx.dir, `control-${rep}`);
    await Deno.mkdir(dir, { recursive: true });
    const agent = await startAgent(ctx.deno, {
      name: `agent-control-${rep}`,
      dir,
      config: setup.config,
    });
    try {
      await attempt(ctx, "memory", "edgemesh", rep, async () => {
        const startReady = await waitReady(agent);
        await sleep(1000);
        return { startReady, rssIdle0: rssMiB(agent.proc.pid) ?? NaN };
      });
      const burst = burstServices(setup.backend, 0, BURST);
      await attempt(ctx, "control", "edgemesh", rep, async () => {
        // Replies arrive once the changes are durable; the VIPs are then read back with one
        // query and probed until every listener accepts.
        const t0 = performance.now();
        await agent.apply(burst.flatMap(serviceChanges));
        const repliedAt = performance.now();
        const vips = await agent.vips("burst");
        const targets = burst.map((s) => ({ host: vipOf(vips, s), port: 80 }));
        const allAt = await waitAllAccepting(targets, 60_000);
        const extra = burstServices(setup.backend, BURST, 1);
        const t1 = performance.now();
        await agent.apply(extra.flatMap(serviceChanges));
        const oneRepliedAt = performance.now();
        const one = extra[0] as BenchService;
        const extraVip = vipOf(await agent.vips(one.namespace, one.name), one);
        const oneAt = await waitAllAccepting([{ host: extraVip, port: 80 }], 30_000);
        await sleep(1000);
        const rssBurst1000 = rssMiB(agent.proc.pid) ?? NaN;
        // Idle: long enough without changes for V8's memory reducer (it collects garbage
        // some seconds after allocation stops and returns the pages) and one periodic
        // resync (30 s) — what `ps` shows on a node that is not being updated.
        await sleep(IDLE_SETTLE_MS);
        ctx.results.record("memory", "edgemesh", rep, {
          rssBurst1000,
          rssIdle1000: rssMiB(agent.proc.pid) ?? NaN,
          rssFileIdle1000: rssMiB(agent.proc.pid, "RssFile") ?? NaN,
        });
        const stopped = await agent.stop();
        if (stopped.code !== 0) {
          ctx.results.notes.push(
            `Agent exited with code ${stopped.code} on SIGTERM (control rep ${
              rep + 1
            }); log ${agent.proc.logFile}`,
          );
        }
        return {
          apply1000: allAt - t0,
          reply1000: repliedAt - t0,
          update1: oneAt - t1,
          update1Reply: oneRepliedAt - t1,
          stop: stopped.ms,
        };
      });
    } finally {
      if (!agent.proc.done()) await agent.stop();
    }
  }
}
