// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * `make soak`: two agents (nodes A and B in their own network namespaces, joined by a veth,
 * the tunnel on) under continuous churn for `SOAK_MINUTES`, sampled every
 * `SOAK_SAMPLE_SECONDS` for resource growth; then everything is deleted and the end state
 * checked against the idle start. Prints a Markdown report on stdout (progress on stderr) and
 * writes `bench/results/soak-<time>.json`. See bench/README.md "Soak".
 * @module
 */
import { join } from "node:path";
import { type AgentProcess, startAgent } from "../tests/_helpers/agent.ts";
import { createNetns, type TempNetns } from "../tests/_helpers/netns.ts";
import { buildMessage, ControlClient } from "../lib/control/mod.ts";
import { ROOT } from "./lib/agent.ts";
import { mustCmd, sleep } from "./lib/proc.ts";
import type { ChangeSpec } from "./lib/k8s.ts";
import {
  BACKEND_PORT,
  emptyPool,
  endpointsObject,
  remove,
  serviceObject,
  SOAK_NS,
  step,
} from "./soak/churn.ts";
import {
  afterWarmup,
  type AgentSample,
  endChecks,
  growthOf,
  growthTable,
  MEASURES,
  samplesTable,
} from "./soak/report.ts";
import { startHelper } from "./soak/helper.ts";
import {
  type AgentHandle,
  controlQuery,
  fdKinds,
  fetchMetrics,
  sampleAgent,
  seriesByName,
  vipListeners,
} from "./soak/sample.ts";

const env = (k: string, d: number) => Number(Deno.env.get(k) ?? d);
const MINUTES = env("SOAK_MINUTES", 10);
const WARMUP_S = env("SOAK_WARMUP_MINUTES", Math.min(3, MINUTES / 4)) * 60;
const SAMPLE_S = env("SOAK_SAMPLE_SECONDS", 30);
const FLAP_S = env("SOAK_FLAP_MINUTES", 3) * 60;
const POOL = env("SOAK_POOL", 200);
const CHURN_PER_S = env("SOAK_CHURN_PER_S", 5);
/** The fds an agent may hold at the end beyond its idle start (bench/README.md "Soak"). */
const FD_SLACK = env("SOAK_FD_SLACK", 12);
const NET = { a: "10.205.0.1", b: "10.205.0.2" } as const;
const BACKEND = { a: "10.206.0.1", b: "10.206.0.2" } as const;
const DNS_IP = "9.251.0.1";
const FIXED = { onA: "on-a", onB: "on-b", none: "none" } as const;

/** Writes `text` and a newline to `to` (all of it). */
function write(text: string, to: typeof Deno.stdout | typeof Deno.stderr): void {
  const bytes = new TextEncoder().encode(text + "\n");
  for (let off = 0; off < bytes.length;) off += to.writeSync(bytes.subarray(off));
}
const log = (msg: string) =>
  write(`soak ${new Date().toISOString().slice(11, 19)} ${msg}`, Deno.stderr);
const stop = new AbortController();
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(sig, () => stop.abort());
}

/** Sends `changes` pipelined on one connection; returns how many got an error reply. */
async function send(socketPath: string, changes: readonly ChangeSpec[]): Promise<number> {
  const client = await ControlClient.connect(socketPath);
  try {
    const replies = await Promise.all(
      changes.map((c) => client.send(buildMessage({ ...c, source: "edgemesh-soak" }))),
    );
    return replies.filter((r) => !r.ok).length;
  } finally {
    await client.close();
  }
}

/**
 * Sends `changes` in batches of 50, each again on a new connection when the agent closed the
 * one it went on (deletes are idempotent); returns how many batches needed that. Once, a
 * 20-minute run's teardown (~420 deletes on one connection) got "Connection reset by peer".
 */
async function sendAll(socketPath: string, changes: readonly ChangeSpec[]): Promise<number> {
  let retries = 0;
  for (let i = 0; i < changes.length; i += 50) {
    const batch = changes.slice(i, i + 50);
    for (let attempt = 1;; attempt++) {
      try {
        const bad = await send(socketPath, batch);
        if (bad > 0) log(`teardown: ${bad} error replies`);
        break;
      } catch (err) {
        if (attempt === 3) throw err;
        retries++;
        log(`teardown: ${(err as Error).message}; sending the batch again`);
      }
    }
  }
  return retries;
}

function nodeObject(name: "a" | "b"): ChangeSpec {
  return {
    operation: "insert",
    resource: `default/node/${name}`,
    content: {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name },
      status: { addresses: [{ type: "InternalIP", address: NET[name] }] },
    },
  };
}

/** The fixed services: one endpoint on A, one on B, one never ready. */
function fixedChanges(): ChangeSpec[] {
  const fixed = [
    { name: FIXED.onA, node: "a" as const, ready: true },
    { name: FIXED.onB, node: "b" as const, ready: true },
    { name: FIXED.none, node: "a" as const, ready: false },
  ];
  return fixed.flatMap((f) => [
    {
      operation: "insert" as const,
      resource: `${SOAK_NS}/service/${f.name}`,
      content: serviceObject({ name: f.name, ports: 1 }),
    },
    {
      operation: "insert" as const,
      resource: `${SOAK_NS}/endpoints/${f.name}`,
      content: endpointsObject(f, BACKEND_IP_PORTLESS),
    },
  ]);
}
const BACKEND_IP_PORTLESS = { a: BACKEND.a, b: BACKEND.b };

async function topology(): Promise<[TempNetns, TempNetns]> {
  const a = await createNetns("a", "emsk");
  let b: TempNetns | undefined;
  try {
    b = await createNetns("b", "emsk");
    await mustCmd([
      "ip",
      "-n",
      a.name,
      "link",
      "add",
      "eth0",
      "type",
      "veth",
      "peer",
      "name",
      "eth0",
      "netns",
      b.name,
    ]);
    for (const [ns, n] of [[a, "a"], [b, "b"]] as const) {
      await ns.run(["ip", "addr", "add", `${NET[n]}/24`, "dev", "eth0"]);
      await ns.run(["ip", "link", "set", "eth0", "up"]);
      await ns.run(["ip", "addr", "add", `${BACKEND[n]}/32`, "dev", "lo"]);
    }
    // A's backend address is reachable from B through A, and the other way round, only via
    // the agents' tunnel: no routes to the 10.206.0.0/24 addresses are added.
    return [a, b];
  } catch (err) {
    await b?.[Symbol.asyncDispose]();
    await a[Symbol.asyncDispose]();
    throw err;
  }
}

async function waitEndState(agents: readonly AgentHandle[], timeoutS: number): Promise<void> {
  const until = performance.now() + timeoutS * 1000;
  for (const ag of agents) {
    while (performance.now() < until && !stop.signal.aborted) {
      const st = await controlQuery(ag.socketPath, "*/status/*") as {
        listeners?: string[];
        addresses?: string[];
      };
      if (
        vipListeners(st.listeners ?? [], DNS_IP).length === 0 && (st.addresses ?? []).length <= 1
      ) break;
      await sleep(1000);
    }
  }
}

const byName = (text: string | null) => text === null ? {} : seriesByName(text);

/** The keys whose counts differ, as `[before, after]`. */
function diff(
  a: Record<string, number>,
  b: Record<string, number>,
): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if ((a[k] ?? 0) !== (b[k] ?? 0)) out[k] = [a[k] ?? 0, b[k] ?? 0];
  }
  return out;
}

async function main(): Promise<number> {
  if (Deno.uid() !== 0) {
    log("needs root (network namespaces)");
    return 2;
  }
  const started = new Date();
  await Deno.mkdir(join(ROOT, "bench/results"), { recursive: true });
  const file = join(
    ROOT,
    "bench/results",
    `soak-${started.toISOString().replace(/[:.]/g, "-")}.json`,
  );
  const top = await Deno.makeTempDir({ prefix: "em-soak-" });
  const [nsA, nsB] = await topology();
  const nss = { a: nsA, b: nsB };
  const procs: AgentProcess[] = [];
  const helpers: Awaited<ReturnType<typeof startHelper>>[] = [];
  let failed = false;
  try {
    const key = crypto.getRandomValues(new Uint8Array(48));
    for (const n of ["a", "b"] as const) {
      const dir = join(top, n);
      await Deno.mkdir(dir);
      await Deno.writeTextFile(join(dir, "resolv.conf"), `nameserver ${BACKEND[n]}\n`);
      await Deno.writeFile(join(dir, "cluster.key"), key, { mode: 0o600 });
      procs.push(
        await startAgent({
          netns: nss[n],
          dir,
          config: {
            nodeName: n,
            tunnelKeyFile: join(dir, "cluster.key"),
            tunnelListen: `${NET[n]}:40001`,
            metricsListen: "127.0.0.1:9560",
            resolvConf: join(dir, "resolv.conf"),
            // SOAK_AGENT_CONFIG: JSON merged into both agents' config, e.g. '{"proxyEngine":"deno"}'.
            ...JSON.parse(Deno.env.get("SOAK_AGENT_CONFIG") || "{}"),
          },
        }),
      );
    }
    const handles: AgentHandle[] = procs.map((p, i) => ({
      pid: p.pid,
      netns: [nsA, nsB][i]!.name,
      socketPath: p.socketPath,
      metricsAddr: "127.0.0.1:9560",
      dnsIp: DNS_IP,
    }));
    await sleep(5000);
    const idle = await Promise.all(handles.map((h) => sampleAgent(h, -1)));
    const idleFds = handles.map((h) => fdKinds(h.pid));
    const idleSeries = await Promise.all(handles.map((h) => fetchMetrics(h).then(byName)));
    log(`idle: ${idle.map((s) => `${s.fds} fds, ${s.vmRssMiB?.toFixed(1)} MiB`).join("; ")}`);

    const setup = [nodeObject("a"), nodeObject("b"), ...fixedChanges()];
    for (const h of handles) await send(h.socketPath, setup);
    let pool = emptyPool(Math.round(POOL * 1.3));
    for (const n of ["a", "b"] as const) {
      const other = n === "a" ? "b" : "a";
      helpers.push(
        await startHelper(nss[n], {
          backend: `${BACKEND[n]}:${BACKEND_PORT}`,
          upstream: BACKEND[n],
          dns: `${DNS_IP}:53`,
          suffix: `${SOAK_NS}.svc.cluster.local`,
          local: n === "a" ? FIXED.onA : FIXED.onB,
          remote: other === "a" ? FIXED.onA : FIXED.onB,
          none: FIXED.none,
          pool: pool.names,
          shortPerS: env("SOAK_SHORT_PER_S", 15),
          dnsPerS: env("SOAK_DNS_PER_S", 40),
          longLived: env("SOAK_LONG_LIVED", 2),
        }),
      );
    }

    const t0 = performance.now();
    const now = () => (performance.now() - t0) / 1000;
    const end = t0 + MINUTES * 60_000;
    const samples: AgentSample[][] = [[], []];
    const churn = {
      steps: 0,
      errors: 0,
      teardownRetries: 0,
      kinds: {} as Record<string, number>,
    };
    const flaps: number[] = [];
    const running = () => performance.now() < end && !stop.signal.aborted;

    const churnLoop = async () => {
      while (running()) {
        const r = step(pool, POOL, BACKEND_IP_PORTLESS, Math.random);
        pool = r.pool;
        churn.steps++;
        churn.kinds[r.kind] = (churn.kinds[r.kind] ?? 0) + 1;
        const errs = await Promise.all(
          handles.map((h) => send(h.socketPath, r.changes).catch(() => 1)),
        );
        churn.errors += errs.reduce((a, b) => a + b, 0);
        await sleep(1000 / CHURN_PER_S);
      }
    };
    const sampleLoop = async () => {
      while (running()) {
        const t = now();
        const s = await Promise.all(handles.map((h) => sampleAgent(h, t)));
        s.forEach((x, i) => samples[i]!.push(x));
        // Kept as it goes: a run that fails later still leaves its samples.
        await Deno.writeTextFile(
          file,
          JSON.stringify({ started, minutes: MINUTES, partial: true, idle, samples }, null, 1),
        );
        log(
          `t=${Math.round(t)}s ` +
            s.map((x, i) =>
              `${"ab"[i]}: rss ${x.vmRssMiB?.toFixed(1)} anon ${
                x.rssAnonMiB?.toFixed(1)
              } fds ${x.fds} ` +
              `addr ${x.addresses}/${x.vips} lis ${x.listeners}/${x.wantedListeners} series ${x.series}`
            ).join(" | "),
        );
        const next = t0 + (Math.round(t / SAMPLE_S) + 1) * SAMPLE_S * 1000;
        await sleep(Math.max(0, Math.min(next, end) - performance.now()));
      }
    };
    const flapLoop = async () => {
      while (running()) {
        await sleep(Math.min(FLAP_S * 1000, Math.max(0, end - performance.now())));
        if (!running()) break;
        flaps.push(Math.round(now()));
        log("link A-B down for 5 s");
        await nsA.run(["ip", "link", "set", "eth0", "down"]);
        await sleep(5000);
        await nsA.run(["ip", "link", "set", "eth0", "up"]);
      }
    };
    await Promise.all([churnLoop(), sampleLoop(), flapLoop()]);
    const loaded = await Promise.all(handles.map((h) => sampleAgent(h, now())));

    log("churn over: stopping the load, deleting everything");
    const traffic = await Promise.all(helpers.map((h) => h.stopLoad()));
    const teardown = [
      ...[...pool.alive.keys()].flatMap(remove),
      ...Object.values(FIXED).flatMap(remove),
      { operation: "delete" as const, resource: "default/node/a", content: {} },
      { operation: "delete" as const, resource: "default/node/b", content: {} },
    ];
    for (const h of handles) churn.teardownRetries += await sendAll(h.socketPath, teardown);
    await waitEndState(handles, 60);
    log("waiting 40 s for the memory reducer and idle timeouts");
    await sleep(40_000);
    const endSamples = await Promise.all(handles.map((h) => sampleAgent(h, now())));
    const endFds = handles.map((h) => fdKinds(h.pid));
    const endSeries = await Promise.all(handles.map((h) => fetchMetrics(h).then(byName)));

    const report: string[] = [`# edgemesh soak ${started.toISOString()}`, ""];
    report.push(
      `${MINUTES} min of churn (${churn.steps} steps, ${churn.errors} error replies: ` +
        `${JSON.stringify(churn.kinds)}), pool ${POOL}, link flaps at ${
          flaps.join(", ") || "none"
        } s, ` +
        `warm-up ${WARMUP_S} s.`,
      "",
    );
    const verdicts: Record<string, unknown>[] = [];
    for (const [i, name] of ["A", "B"].entries()) {
      const all = [idle[i]!, ...samples[i]!, loaded[i]!];
      const window = afterWarmup([...samples[i]!, loaded[i]!], WARMUP_S);
      const growths = MEASURES.map((m) => growthOf(m, window));
      const checks = endChecks(idle[i]!, endSamples[i]!, FD_SLACK);
      if (checks.some((c) => !c.ok) || growths.some((g) => g.verdict === "growing")) failed = true;
      verdicts.push({
        agent: name,
        growths,
        checks,
        idleFds: idleFds[i],
        endFds: endFds[i],
        idleSeries: idleSeries[i],
        endSeries: endSeries[i],
      });
      report.push(
        `## Agent ${name}`,
        "",
        samplesTable([...all, endSamples[i]!]),
        "",
        "(first row: idle start; last: 40 s after everything was deleted)",
        "",
        growthTable(growths),
        "",
        "End state:",
        "",
        ...checks.map((c) => `- ${c.ok ? "✓" : "✗"} ${c.what}: ${c.got} (want ${c.want})`),
        `- fds by kind, idle → end: ${JSON.stringify(idleFds[i])} → ${JSON.stringify(endFds[i])}`,
        `- series by name that differ, idle → end: ${
          JSON.stringify(diff(idleSeries[i]!, endSeries[i]!))
        }`,
        "",
      );
    }
    report.push(
      "## Traffic",
      "",
      ...traffic.map((t, i) => `- node ${"AB"[i]}: ${JSON.stringify(t)}`),
      "",
    );
    write(report.join("\n"), Deno.stdout);
    await Deno.writeTextFile(
      file,
      JSON.stringify(
        {
          started,
          minutes: MINUTES,
          churn,
          flaps,
          idle,
          samples,
          loaded,
          endSamples,
          verdicts,
          traffic,
        },
        null,
        1,
      ),
    );
    log(`wrote ${file}`);
  } catch (err) {
    failed = true;
    log(`failed: ${(err as Error).stack}`);
    for (const p of procs) {
      // An agent that died (a crash: SIGSEGV was seen) leaves its socket file behind, and the
      // next connection reads "connection refused": say how it ended before its log.
      const ended = await Promise.race([
        p.exited,
        new Promise<null>((r) => setTimeout(() => r(null), 200)),
      ]);
      const how = ended === null
        ? "is still running"
        : `exited (code ${ended.code}, signal ${ended.signal ?? "none"})`;
      log(`agent ${p.pid} ${how}; log tail:\n${p.logs().slice(-4000)}`);
    }
  } finally {
    for (const h of helpers) await h.kill();
    if (Deno.env.get("SOAK_KEEP") === "1") {
      for (const [i, p] of procs.entries()) {
        await Deno.writeTextFile(join(top, `agent-${"ab"[i]}.log`), p.logs());
      }
      log(`kept ${top}`);
    }
    for (const p of procs) await p[Symbol.asyncDispose]();
    await nsB[Symbol.asyncDispose]();
    await nsA[Symbol.asyncDispose]();
    if (Deno.env.get("SOAK_KEEP") !== "1") {
      await Deno.remove(top, { recursive: true }).catch(() => {});
    }
  }
  return failed ? 1 : 0;
}

Deno.exit(await main());
