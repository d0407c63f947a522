// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * `make bench`: measures edgemesh against a direct connection, HAProxy, nginx and dnsmasq in
 * the same run (issue 7). Runs inside the namespace `bench/run.sh` created (`BENCH_NETNS`);
 * refuses to run anywhere else so no address is ever added to the host.
 *
 * Environment: `BENCH_QUICK=1` (2 s runs), `BENCH_REPS` (default 3), `BENCH_SECONDS`,
 * `BENCH_SCENARIOS` (e.g. `1,4,5`), `BENCH_KEEP=1` (keep the scratch dir with all logs),
 * `BENCH_EDGEMESH=0` (baselines only).
 * Prints the Markdown report on stdout and writes `bench/results/<time>.json`.
 * @module
 */
import { join } from "node:path";
import { type Agent, agentAvailable, ROOT, startAgent } from "./lib/agent.ts";
import {
  dnsmasqArgs,
  type Forward,
  haproxyConfig,
  hostsFile,
  NETNS_SYSCTLS,
  nginxBackendConfig,
  nginxStreamConfig,
  startDnsmasq,
  startHaproxy,
  startIperfServer,
  startNginx,
} from "./lib/baselines.ts";
import type { BenchContext } from "./lib/context.ts";
import { type BenchService, serviceChanges, serviceFqdn } from "./lib/k8s.ts";
import { waitAllAccepting } from "./lib/net.ts";
import { mustCmd, type Proc, runCmd } from "./lib/proc.ts";
import { Results } from "./lib/results.ts";
import { RssSampler } from "./lib/rss.ts";
import { evaluateTargets, ISSUE7_TARGETS } from "./lib/targets.ts";
import { renderReport } from "./table.ts";
import { MEMORY_GROUP, runControl, waitReady } from "./scenarios/control.ts";
import { runDns } from "./scenarios/dns.ts";
import { runHttp, runThroughput, type TcpSystem } from "./scenarios/proxy.ts";
import { runTunnel } from "./scenarios/tunnel.ts";

/** Addresses inside the benchmark namespace (on `lo`, so every path is loopback). */
const ADDR = {
  backend: "10.201.0.2",
  haproxy: "10.201.0.3",
  nginx: "10.201.0.4",
  dnsmasq: "10.201.0.5",
  upstream: "10.201.0.6",
  agentDns: "9.251.0.1",
} as const;
const IPERF_PORT = 5201;
const HTTP_PORT = 8080;
/** Service names in the DNS scenario (and the dnsmasq hosts file). */
const DNS_SERVICES = 100;
/** Names the upstream answers, queried through each resolver's cache. */
const FORWARDED_NAMES = 10;

function log(message: string): void {
  // deno-lint-ignore no-console
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

async function inOwnNamespace(name: string | undefined): Promise<boolean> {
  if (name === undefined || !name.startsWith("emb-")) return false;
  try {
    const [self, ns] = await Promise.all([
      Deno.stat("/proc/self/ns/net"),
      Deno.stat(`/run/netns/${name}`),
    ]);
    return self.ino === ns.ino && self.dev === ns.dev;
  } catch {
    return false;
  }
}

/**
 * The commit the run measured, with `-dirty` when tracked files differ from it (a variant
 * measured from the working tree must not pass for the commit); undefined outside git.
 */
async function commitOf(root: string): Promise<string | undefined> {
  const head = await runCmd(["git", "-C", root, "rev-parse", "--short", "HEAD"]).catch(() => null);
  if (head === null || head.code !== 0) return undefined;
  const status = await runCmd(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"])
    .catch(() => null);
  return head.stdout.trim() + (status !== null && status.stdout.trim() !== "" ? "-dirty" : "");
}

async function firstLine(argv: string[]): Promise<string> {
  const r = await runCmd(argv, { timeoutMs: 10_000 }).catch(() => null);
  if (r === null) return "unavailable";
  return (r.stdout + r.stderr).trim().split("\n")[0] ?? "";
}

async function main(): Promise<number> {
  const env = Deno.env.toObject();
  const netns = env.BENCH_NETNS;
  if (!(await inOwnNamespace(netns))) {
    log("bench/main.ts must run inside the namespace bench/run.sh creates: use `make bench`");
    return 2;
  }
  const quick = env.BENCH_QUICK === "1";
  const scenarios = new Set(
    (env.BENCH_SCENARIOS ?? "1,2,3,4,5,6,7").split(",").map((s) => s.trim()),
  );
  const results = new Results();
  const dir = await Deno.makeTempDir({ prefix: "emb-run-" });
  const ctx: BenchContext = {
    deno: env.DENO ?? Deno.execPath(),
    dir,
    runId: env.BENCH_RUN_ID ?? crypto.randomUUID().slice(0, 6),
    reps: Math.max(1, Number(env.BENCH_REPS ?? 3)),
    seconds: Math.max(1, Number(env.BENCH_SECONDS ?? (quick ? 2 : 5))),
    quick,
    results,
    log,
  };
  const startedAt = new Date();
  const procs: Proc[] = [];
  let agent: Agent | null = null;
  const onSignal = () => {
    log("interrupted: stopping processes");
    for (const p of procs) p.stop("SIGKILL", 0).catch(() => {});
    agent?.proc.stop("SIGKILL", 0).catch(() => {});
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  log(
    `run ${ctx.runId}: ${ctx.reps} reps × ${ctx.seconds} s, scenarios ${
      [...scenarios].join(",")
    }, logs in ${dir}`,
  );
  try {
    await mustCmd(["ip", "link", "set", "lo", "up"]);
    await mustCmd(["sysctl", "-q", "-w", ...NETNS_SYSCTLS]);
    for (const a of [ADDR.backend, ADDR.haproxy, ADDR.nginx, ADDR.dnsmasq, ADDR.upstream]) {
      await mustCmd(["ip", "addr", "add", `${a}/32`, "dev", "lo"]);
    }
    const edgemesh = env.BENCH_EDGEMESH !== "0" && await agentAvailable(ctx.deno);
    if (!edgemesh) {
      results.notes.push(
        "edgemesh was not measured (BENCH_EDGEMESH=0, or `main.ts run --help` failed)",
      );
      log("edgemesh agent not measured: baselines only");
    }

    // Backends and baselines.
    const backendIperf = { host: ADDR.backend, port: IPERF_PORT };
    const backendHttp = { host: ADDR.backend, port: HTTP_PORT };
    procs.push(await startIperfServer(dir, backendIperf));
    procs.push(
      await startNginx(dir, "nginx-backend", nginxBackendConfig(dir, backendHttp), backendHttp),
    );
    const forwards = (listen: string): Forward[] => [
      { name: "iperf", listen: { host: listen, port: IPERF_PORT }, backend: backendIperf },
      { name: "http", listen: { host: listen, port: HTTP_PORT }, backend: backendHttp },
    ];
    procs.push(
      await startHaproxy(dir, haproxyConfig(forwards(ADDR.haproxy)), {
        host: ADDR.haproxy,
        port: HTTP_PORT,
      }),
    );
    procs.push(
      await startNginx(dir, "nginx-stream", nginxStreamConfig(dir, forwards(ADDR.nginx)), {
        host: ADDR.nginx,
        port: HTTP_PORT,
      }),
    );
    const forwardedNames = Array.from({ length: FORWARDED_NAMES }, (_, i) => `fwd-${i}.bench.test`);
    const upstreamHosts = join(dir, "upstream.hosts");
    await Deno.writeTextFile(
      upstreamHosts,
      hostsFile(new Map(forwardedNames.map((n, i) => [n, `192.0.2.${i + 1}`]))),
    );
    procs.push(
      await startDnsmasq(
        dir,
        "dnsmasq-upstream",
        dnsmasqArgs(ADDR.upstream, upstreamHosts, { localTtl: 300 }),
        ADDR.upstream,
      ),
    );

    // The agent and its services.
    const dnsServices: BenchService[] = Array.from({ length: DNS_SERVICES }, (_, i) => ({
      namespace: "dns",
      name: `svc-${i}`,
      ports: [{ name: "http", port: 80, targetPort: HTTP_PORT }],
      endpoints: [{ ip: ADDR.backend }],
    }));
    const iperfSvc: BenchService = {
      namespace: "bench",
      name: "iperf",
      ports: [{ name: "iperf", port: IPERF_PORT, targetPort: IPERF_PORT }],
      endpoints: [{ ip: ADDR.backend }],
    };
    const httpSvc: BenchService = {
      namespace: "bench",
      name: "http",
      ports: [{ name: "http", port: 80, targetPort: HTTP_PORT }],
      endpoints: [{ ip: ADDR.backend }],
    };
    const resolvConf = join(dir, "resolv.conf");
    await Deno.writeTextFile(resolvConf, `nameserver ${ADDR.upstream}\n`);
    const agentConfig = {
      nodeName: "bench-node",
      dnsListen: [`${ADDR.agentDns}:53`],
      upstreams: [`${ADDR.upstream}:53`],
      resolvConf,
      metricsListen: "127.0.0.1:9560",
      logLevel: "info",
    };
    // Without the agent, dnsmasq still serves the same names (addresses are placeholders).
    let vips = new Map<string, string>(
      dnsServices.map((s, i) => [serviceFqdn(s), `9.251.1.${i + 1}`]),
    );
    const systems: TcpSystem[] = [
      { name: "direct", iperf: backendIperf, http: backendHttp },
      {
        name: "haproxy",
        iperf: { host: ADDR.haproxy, port: IPERF_PORT },
        http: { host: ADDR.haproxy, port: HTTP_PORT },
      },
      {
        name: "nginx",
        iperf: { host: ADDR.nginx, port: IPERF_PORT },
        http: { host: ADDR.nginx, port: HTTP_PORT },
      },
    ];
    const needMainAgent = ["1", "2", "3", "4", "7"].some((s) => scenarios.has(s));
    if (edgemesh && needMainAgent) {
      log("starting the agent");
      const agentDir = join(dir, "agent-main");
      await Deno.mkdir(agentDir, { recursive: true });
      agent = await startAgent(ctx.deno, {
        name: "agent-main",
        dir: agentDir,
        config: agentConfig,
      });
      const ready = await waitReady(agent);
      log(`agent ready after ${ready.toFixed(0)} ms`);
      await agent.apply([iperfSvc, httpSvc, ...dnsServices].flatMap(serviceChanges));
      const found = await agent.vips(null);
      const vipOf = (s: BenchService) => {
        const v = found.get(`${s.namespace}/${s.name}`);
        if (v === undefined) {
          throw new Error(`The agent reports no VIP for "${s.namespace}/${s.name}"`);
        }
        return v;
      };
      await waitAllAccepting([
        { host: vipOf(iperfSvc), port: IPERF_PORT },
        ...[httpSvc, ...dnsServices].map((s) => ({ host: vipOf(s), port: 80 })),
      ], 30_000);
      vips = new Map(dnsServices.map((s) => [serviceFqdn(s), vipOf(s)]));
      systems.splice(1, 0, {
        name: "edgemesh",
        iperf: { host: vipOf(iperfSvc), port: IPERF_PORT },
        http: { host: vipOf(httpSvc), port: 80 },
      });
    }
    const dnsmasqHosts = join(dir, "dnsmasq.hosts");
    await Deno.writeTextFile(dnsmasqHosts, hostsFile(vips));
    procs.push(
      await startDnsmasq(
        dir,
        "dnsmasq",
        dnsmasqArgs(ADDR.dnsmasq, dnsmasqHosts, { server: ADDR.upstream, localTtl: 5 }),
        ADDR.dnsmasq,
      ),
    );

    // Scenarios 4, 1, 2, 3 on the long-lived agent, its RSS sampled throughout.
    const sampler = agent ? new RssSampler(agent.proc.pid) : null;
    // DNS first, so "RSS during the DNS run" is not inflated by what the proxy runs leave behind.
    if (scenarios.has("4")) {
      const dnsSystems = [
        ...(agent
          ? [{ name: "edgemesh", server: { host: ADDR.agentDns, port: 53 }, pid: agent.proc.pid }]
          : []),
        { name: "dnsmasq", server: { host: ADDR.dnsmasq, port: 53 } },
      ];
      await runDns(
        ctx,
        dnsSystems,
        { serviceNames: [...vips.keys()], forwardedNames },
        (rep, mib) => {
          results.declare(MEMORY_GROUP);
          results.record("memory", "edgemesh", rep, { rssPeakDns: mib });
        },
      );
    }
    if (scenarios.has("1")) await runThroughput(ctx, systems);
    await runHttp(ctx, systems, { close: scenarios.has("2"), keepAlive: scenarios.has("3") });
    if (agent && sampler) {
      const peak = sampler.stop();
      results.declare(MEMORY_GROUP);
      results.record("memory", "edgemesh", 0, { rssPeak1to4: peak });
      if (agent.proc.done()) {
        results.notes.push(`The agent exited during scenarios 1–4:\n${agent.proc.tail(10)}`);
      }
      const stopped = await agent.stop();
      if (stopped.code !== 0) {
        results.notes.push(
          `Agent exited with code ${stopped.code} on SIGTERM after scenarios 1–4; log ${agent.proc.logFile}`,
        );
      }
      agent = null;
    }

    if (edgemesh && (scenarios.has("5") || scenarios.has("7"))) {
      await runControl(ctx, {
        config: agentConfig,
        dns: { host: ADDR.agentDns, port: 53 },
        backend: backendHttp,
      });
    }
    if (edgemesh && scenarios.has("6")) {
      try {
        await runTunnel(ctx);
      } catch (err) {
        results.notes.push(
          `Scenario 6 (tunnel) could not run: ${(err as Error).message.split("\n")[0]}`,
        );
        log(`scenario 6 failed: ${(err as Error).stack}`);
      }
    }
  } catch (err) {
    results.notes.push(`Run aborted: ${(err as Error).message}`);
    log(`run aborted: ${(err as Error).stack}`);
  } finally {
    if (agent) await agent.stop().catch(() => {});
    for (const p of procs.reverse()) await p.stop().catch(() => {});
  }

  const outcomes = evaluateTargets(results, ISSUE7_TARGETS);
  const load = (await Deno.readTextFile("/proc/loadavg").catch(() => "")).split(" ").slice(0, 3)
    .join(" ");
  const heading =
    `edgemesh benchmark ${startedAt.toISOString()} (${ctx.reps} reps × ${ctx.seconds} s${
      quick ? ", quick" : ""
    }, load ${load})`;
  const report = renderReport(results, outcomes, heading);
  // deno-lint-ignore no-console
  console.log(report);
  const versions = {
    deno: Deno.version.deno,
    kernel: Deno.osRelease(),
    cpus: navigator.hardwareConcurrency,
    haproxy: await firstLine(["haproxy", "-v"]),
    nginx: await firstLine(["nginx", "-v"]),
    dnsmasq: await firstLine(["dnsmasq", "--version"]),
    iperf3: await firstLine(["iperf3", "--version"]),
    wrk: await firstLine(["wrk", "--version"]),
    dnsperf:
      (await runCmd(["dnsperf", "-h"]).catch(() => null))?.stdout.match(/Version \S+/)?.[0] ?? "",
    commit: await commitOf(ROOT),
  };
  const file = join(
    ROOT,
    "bench",
    "results",
    `${startedAt.toISOString().replaceAll(":", "-").slice(0, 19)}.json`,
  );
  await Deno.writeTextFile(
    file,
    JSON.stringify(
      {
        startedAt: startedAt.toISOString(),
        finishedAt: new Date().toISOString(),
        settings: { reps: ctx.reps, seconds: ctx.seconds, quick, scenarios: [...scenarios] },
        versions,
        load,
        groups: results.groups,
        samples: results.samples,
        errors: results.errors,
        notes: results.notes,
        targets: outcomes.map((o) => ({ ...o.target, value: o.value, pass: o.pass })),
      },
      null,
      2,
    ) + "\n",
  );
  log(`results written to ${file}`);
  if (env.BENCH_KEEP === "1" || results.errors.length > 0 || results.notes.length > 0) {
    log(`logs kept in ${dir}`);
  } else {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
  return 0;
}

if (import.meta.main) Deno.exit(await main());
