// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Scenario 6 of issue 7: two nodes (namespaces A and B joined by a veth pair), each running an
 * agent with a shared `tunnelKeyFile` and the other as a static peer. The service's only
 * endpoint lives on B. Measured: A → VIP (through the HTTP/2 tunnel), B → VIP (same-node
 * proxy), and A → endpoint directly over the veth.
 * @module
 */
import { join } from "node:path";
import { type Agent, READY_LINE, ROOT, startAgent } from "../lib/agent.ts";
import { attempt, type BenchContext } from "../lib/context.ts";
import { type BenchService, serviceChanges } from "../lib/k8s.ts";
import { mustCmd, type Proc, spawnLogged } from "../lib/proc.ts";
import { NETNS_SYSCTLS, nginxBackendConfig } from "../lib/baselines.ts";
import { rotate } from "../lib/stats.ts";
import { sumMetric } from "../lib/parse.ts";
import { iperf, wrk } from "../lib/tools.ts";
import { warmUp, WARMUP_SECONDS, WRK_CONNECTIONS } from "./proxy.ts";

const LINK_A = "10.202.0.1";
const LINK_B = "10.202.0.2";
/** The "pod" address of the backend on node B. */
const POD_B = "10.203.0.2";
const TUNNEL_PORT = 40001;

interface Side {
  readonly ns: string;
  readonly node: string;
  readonly link: string;
}

/** Runs scenario 6; creates and removes namespaces `emb-<runId>-a` and `-b`. */
export async function runTunnel(ctx: BenchContext): Promise<void> {
  const a: Side = { ns: `emb-${ctx.runId}-a`, node: "bench-a", link: LINK_A };
  const b: Side = { ns: `emb-${ctx.runId}-b`, node: "bench-b", link: LINK_B };
  const procs: Proc[] = [];
  const agents: Agent[] = [];
  const dir = join(ctx.dir, "tunnel");
  await Deno.mkdir(dir, { recursive: true });
  try {
    for (const s of [a, b]) {
      await mustCmd(["ip", "netns", "add", s.ns]);
      await mustCmd(["ip", "-n", s.ns, "link", "set", "lo", "up"]);
      await mustCmd(["ip", "netns", "exec", s.ns, "sysctl", "-q", "-w", ...NETNS_SYSCTLS]);
    }
    await mustCmd([
      "ip",
      "-n",
      a.ns,
      "link",
      "add",
      "eth0",
      "type",
      "veth",
      "peer",
      "name",
      "eth0",
      "netns",
      b.ns,
    ]);
    for (const s of [a, b]) {
      await mustCmd(["ip", "-n", s.ns, "addr", "add", `${s.link}/24`, "dev", "eth0"]);
      await mustCmd(["ip", "-n", s.ns, "link", "set", "eth0", "up"]);
    }
    await mustCmd(["ip", "-n", b.ns, "addr", "add", `${POD_B}/32`, "dev", "lo"]);
    await mustCmd(["ip", "-n", a.ns, "route", "add", `${POD_B}/32`, "via", LINK_B]);
    const inNs = (s: Side) => ["ip", "netns", "exec", s.ns];

    // Backends on B.
    procs.push(
      spawnLogged(
        "iperf3-b",
        [...inNs(b), "iperf3", "-s", "-B", POD_B, "-p", "5201"],
        join(dir, "iperf3-b.log"),
      ),
    );
    await Deno.mkdir(join(dir, "nginx-tmp"), { recursive: true });
    await Deno.writeTextFile(
      join(dir, "nginx-b.conf"),
      nginxBackendConfig(dir, { host: POD_B, port: 8080 }),
    );
    procs.push(spawnLogged(
      "nginx-b",
      [
        ...inNs(b),
        "nginx",
        "-p",
        dir,
        "-e",
        join(dir, "nginx-b.err"),
        "-c",
        join(dir, "nginx-b.conf"),
      ],
      join(dir, "nginx-b.log"),
    ));

    // Agents with a shared key, each other's static peer.
    const keyFile = join(dir, "cluster.key");
    await Deno.writeTextFile(keyFile, crypto.randomUUID() + crypto.randomUUID());
    await Deno.chmod(keyFile, 0o600);
    for (const [self, peer] of [[a, b], [b, a]] as const) {
      const agentDir = join(dir, self.node);
      await Deno.mkdir(agentDir, { recursive: true });
      const resolvConf = join(agentDir, "resolv.conf");
      await Deno.writeTextFile(resolvConf, `nameserver ${peer.link}\n`);
      agents.push(
        await startAgent(ctx.deno, {
          name: `agent-${self.node}`,
          dir: agentDir,
          netns: self.ns,
          config: {
            nodeName: self.node,
            tunnelListen: `${self.link}:${TUNNEL_PORT}`,
            tunnelKeyFile: keyFile,
            peers: { [peer.node]: `${peer.link}:${TUNNEL_PORT}` },
            metricsListen: "127.0.0.1:9560",
            resolvConf,
            logLevel: "info",
          },
        }),
      );
    }
    await Promise.all(agents.map((ag) => ag.proc.waitForLine(READY_LINE, 60_000)));
    const svc: BenchService = {
      namespace: "bench",
      name: "tunnel",
      ports: [{ name: "iperf", port: 5201, targetPort: 5201 }, {
        name: "http",
        port: 80,
        targetPort: 8080,
      }],
      endpoints: [{ ip: POD_B, nodeName: b.node }],
    };
    for (const ag of agents) await ag.apply(serviceChanges(svc));
    const probe = (s: Side, ...args: string[]) =>
      mustCmd([
        ...inNs(s),
        ctx.deno,
        "run",
        "-A",
        "--config",
        join(ROOT, "deno.json"),
        join(ROOT, "bench", "probe.ts"),
        ...args,
      ], 60_000);
    // The control sockets are files, reachable from here; the VIPs are probed from inside.
    const vip = async (agent: Agent, s: Side): Promise<string> => {
      const addr = (await agent.vips(svc.namespace)).get(`${svc.namespace}/${svc.name}`);
      if (addr === undefined) {
        throw new Error(`No VIP for ${svc.namespace}/${svc.name} on ${s.node}`);
      }
      await probe(s, "wait", `${addr}:80`, `${addr}:5201`);
      return addr;
    };
    // The backends on B, reached from A over the veth (also checks the route).
    await probe(a, "wait", `${POD_B}:5201`, `${POD_B}:8080`);
    const vipA = await vip(agents[0] as Agent, a);
    const vipB = await vip(agents[1] as Agent, b);
    const systems = [
      { name: "direct", prefix: inNs(a), host: POD_B, http: 8080 },
      { name: "tunnel", prefix: inNs(a), host: vipA, http: 80 },
      { name: "same-node proxy", prefix: inNs(b), host: vipB, http: 80 },
    ];
    ctx.results.declare({
      id: "tunnel-tcp",
      scenario: 6,
      title: `Tunnel A→B: TCP throughput, 1 stream (iperf3, ${ctx.seconds} s)`,
      reference: "direct",
      metrics: [{ key: "gbps", label: "Gbit/s", digits: 2, higherIsBetter: true }],
      systems: systems.map((s) => s.name),
    });
    ctx.results.declare({
      id: "tunnel-close",
      scenario: 6,
      title:
        `Tunnel A→B: short connections (wrk, ${WRK_CONNECTIONS} connections, ${ctx.seconds} s)`,
      reference: "direct",
      metrics: [
        { key: "rps", label: "req/s", digits: 0, higherIsBetter: true },
        { key: "p50", label: "p50 ms", digits: 3, higherIsBetter: false },
        { key: "p99", label: "p99 ms", digits: 3, higherIsBetter: false },
      ],
      systems: systems.map((s) => s.name),
    });
    ctx.log("scenario 6: tunnel");
    // One unrecorded iperf3 run per system first, as scenarios 1–3 have. The readiness probes
    // above are bogus iperf3 clients to the one-test-at-a-time server, and once the first
    // measured run after them was reset by it (`2026-11-26T17-31-02.json`, `direct`).
    await warmUp(
      ctx,
      "tunnel-tcp",
      systems,
      (s) => iperf({ host: s.host, port: 5201 }, 1, WARMUP_SECONDS, s.prefix),
      false, // the runs are in the nodes' namespaces, not this one
    );
    for (let rep = 0; rep < ctx.reps; rep++) {
      for (const s of rotate(systems, rep)) {
        await attempt(
          ctx,
          "tunnel-tcp",
          s.name,
          rep,
          () => iperf({ host: s.host, port: 5201 }, 1, ctx.seconds, s.prefix),
        );
      }
      for (const s of rotate(systems, rep)) {
        const url = `http://${s.host}:${s.http}/`;
        await attempt(
          ctx,
          "tunnel-close",
          s.name,
          rep,
          () => wrk(url, WRK_CONNECTIONS, ctx.seconds, true, s.prefix),
        );
      }
    }
    // A has a route to B's pod address, so make sure A's agent really used the tunnel.
    const metricsA = await probe(a, "get", "http://127.0.0.1:9560/metrics").catch(() => "");
    const streams = sumMetric(metricsA, "edgemesh_tunnel_streams_total", { direction: "out" });
    ctx.log(`  tunnel streams opened by ${a.node}: ${streams}`);
    if (streams === 0) {
      ctx.results.notes.push(
        `Scenario 6: ${a.node} opened no tunnel streams; "tunnel" numbers are a direct dial`,
      );
    }
    for (const ag of agents) {
      if (ag.proc.done()) {
        ctx.results.notes.push(`Agent ${ag.name} exited during scenario 6; log ${ag.proc.logFile}`);
      }
    }
  } finally {
    for (const ag of agents) await ag.stop().catch(() => {});
    for (const p of procs) await p.stop().catch(() => {});
    for (const s of [a, b]) {
      await mustCmd(["ip", "netns", "del", s.ns]).catch(() => {});
    }
  }
}
