// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Micro-benchmark of the inter-node tunnel on loopback, in two processes like two agents:
 *
 * - node B: a `TunnelServer` whose endpoints are an nginx (`200 ok`) and an iperf3 server;
 * - node A: TCP listeners that, per accepted connection, dial through the `TunnelDialer` to B
 *   and splice (as the proxy does) — or, as the baseline, a plain TCP relay that dials the
 *   backend directly and splices the same way.
 *
 * Measured in one run, alternating order: iperf3 1 stream, wrk short connections with 50
 * connections and with 1 (sequential: exposes per-stream latency such as Nagle + delayed ACK),
 * for `direct`, `relay` and `tunnel`. Ratios are against `relay` in the same repetition.
 *
 * ```sh
 * deno run -A bench/micro/tunnel_bench.ts [--reps 3] [--seconds 3] [--prof DIR] [--only tunnel]
 * ```
 * `--prof DIR` runs nodes A and B with `--cpu-prof --cpu-prof-dir DIR`. `--compare DIR` also runs
 * the tunnel of another checkout's `lib/` (e.g. `git archive HEAD lib | tar -x -C DIR`) as
 * `tunnel@base`, so a change is measured against its parent in the same run. `--tls`: the
 * tunnels use TLS (`tunnelTLS`, a test CA and a certificate for 127.0.0.1 made with openssl).
 * There is no switch for the connection-capping front of node B: to measure its cost, point
 * `--compare` at a copy of `lib/` whose `TunnelServer` serves `Deno.serve` itself on its listen
 * address (no `HttpFront`; `setListenerNoDelay` on that listener with TLS; the handler taking
 * `info.remoteAddr` as the peer), as `lib/tunnel/README.md` ("What the hop costs") did.
 * @module
 */
// deno-lint-ignore-file no-console
import { parseArgs } from "node:util";
import { join } from "node:path";
import { nullLogger } from "../../lib/log/mod.ts";
import type { DialTarget, UpstreamConn } from "../../lib/proxy/dialer.ts";
import { BufferPool, splice } from "../../lib/proxy/mod.ts";
import { httpPort, oneEndpointSnapshot } from "../lib/snapshot.ts";

/** The pre-shared key both benchmark nodes use (≥ 32 bytes, as the agent requires). */
const BENCH_KEY = new TextEncoder().encode("edgemesh-tunnel-benchmark-key-0123456789");
import { nginxBackendConfig } from "../lib/baselines.ts";
import { parseIperf3, parseWrk } from "../lib/parse.ts";
import { runCmd, sleep, spawnLogged } from "../lib/proc.ts";
import { median, rotate } from "../lib/stats.ts";

const HOST = "127.0.0.1";
const SELF = new URL(import.meta.url).pathname;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;

const { values: args, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    reps: { type: "string", default: "3" },
    seconds: { type: "string", default: "3" },
    prof: { type: "string" },
    only: { type: "string" },
    http: { type: "string" },
    iperf: { type: "string" },
    peer: { type: "string" },
    mode: { type: "string" },
    lib: { type: "string" },
    compare: { type: "string" },
    tls: { type: "boolean", default: false },
    pki: { type: "string" },
  },
});

function services(httpPort: number, iperfPort: number) {
  return [
    { name: "http", port: 80, backendPort: httpPort },
    { name: "iperf", port: 5201, backendPort: iperfPort },
  ];
}

/** The tunnel module under test: this checkout's, or `--lib DIR`'s. */
async function tunnelModule(): Promise<typeof import("../../lib/tunnel/mod.ts")> {
  const url = args.lib
    ? new URL(`file://${args.lib}/tunnel/mod.ts`)
    : new URL("../../lib/tunnel/mod.ts", import.meta.url);
  return await import(url.href);
}

/** With `--pki DIR` (from `--tls`): the PEM files of the test PKI. */
async function benchTls() {
  if (!args.pki) return null;
  const read = (f: string) => Deno.readTextFile(join(args.pki!, f));
  return { cert: await read("srv.crt"), key: await read("srv.key"), ca: await read("ca.crt") };
}

/** Node B: the tunnel server with both backends as its own endpoints. */
async function nodeB(): Promise<void> {
  const { TunnelServer } = await tunnelModule();
  const svcs = services(Number(args.http), Number(args.iperf));
  const server = new TunnelServer({
    listen: `${HOST}:0`,
    nodeName: "b",
    key: BENCH_KEY,
    tls: await benchTls(),
    loopbackEndpointsForTests: true, // every "node" is on this host's loopback
    // Every stream comes from 127.0.0.1: at the default per-source budget (25 000 nonces per
    // 60 s) the short-connection runs were refused as rate-limited within seconds.
    maxNonces: 1_000_000,
    maxNoncesPerSource: 1_000_000,
    log: nullLogger,
  });
  server.update(oneEndpointSnapshot(svcs.map((s) => ({
    namespace: "bench",
    name: s.name,
    vip: null,
    port: s.port,
    targetPort: s.backendPort,
    endpointIp: HOST,
    nodeName: "b",
  }))));
  console.log(JSON.stringify({ port: server.addr.port }));
  Deno.addSignalListener("SIGTERM", () => server.close().then(() => Deno.exit(0)));
}

/** Node A: one listener per service, each connection tunnelled (or relayed) and spliced. */
async function nodeA(): Promise<void> {
  const { TunnelDialer } = await tunnelModule();
  const svcs = services(Number(args.http), Number(args.iperf));
  const pool = new BufferPool();
  const dialer = args.mode === "tunnel"
    ? new TunnelDialer({
      nodeName: "a",
      key: BENCH_KEY,
      tls: await benchTls(),
      peers: { b: args.peer! },
      log: nullLogger,
    })
    : null;
  const ports: Record<string, number> = {};
  for (const s of svcs) {
    const listener = Deno.listen({ hostname: HOST, port: 0 });
    ports[s.name] = (listener.addr as Deno.NetAddr).port;
    const target: DialTarget = {
      namespace: "bench",
      service: s.name,
      port: httpPort(s.port, s.backendPort),
      backend: { ip: HOST, port: s.backendPort, nodeName: "b" },
    };
    (async () => {
      for await (const client of listener) {
        (async () => {
          let up: UpstreamConn;
          try {
            up = dialer
              ? await dialer.dial(target, { timeoutMs: 5000 })
              : await Deno.connect({ hostname: HOST, port: s.backendPort });
          } catch (err) {
            console.error(`dial failed: ${err}`);
            client.close();
            return;
          }
          await splice(client, up, pool);
        })();
      }
    })();
  }
  console.log(JSON.stringify(ports));
  Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

function freePort(): number {
  const l = Deno.listen({ hostname: HOST, port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function startNode(name: string, dir: string, extra: string[]) {
  const prof = args.prof ? ["--cpu-prof", "--cpu-prof-dir", args.prof] : [];
  const proc = spawnLogged(name, [
    Deno.execPath(),
    "run",
    "-A",
    "--config",
    CONFIG,
    ...prof,
    SELF,
    ...extra,
  ], join(dir, `${name}.log`));
  await proc.waitForLine(/^\{/, 30_000);
  const text = await Deno.readTextFile(join(dir, `${name}.log`));
  const line = text.split("\n").find((l) => l.startsWith("{"))!;
  return { proc, info: JSON.parse(line) as Record<string, number> };
}

async function driver(): Promise<void> {
  const reps = Number(args.reps);
  const seconds = Number(args.seconds);
  const dir = await Deno.makeTempDir({ prefix: "em-tunnel-bench-" });
  const httpPort = freePort();
  const iperfPort = freePort();
  await Deno.mkdir(join(dir, "nginx-tmp"));
  await Deno.writeTextFile(
    join(dir, "nginx.conf"),
    nginxBackendConfig(dir, { host: HOST, port: httpPort }),
  );
  const procs = [
    spawnLogged("nginx", [
      "nginx",
      "-p",
      dir,
      "-e",
      join(dir, "nginx.err"),
      "-c",
      join(dir, "nginx.conf"),
    ], join(dir, "nginx.log")),
    spawnLogged(
      "iperf3",
      ["iperf3", "-s", "-B", HOST, "-p", String(iperfPort)],
      join(dir, "iperf3.log"),
    ),
  ];
  const results: Record<string, Record<string, number[]>> = {};
  const add = (sys: string, key: string, v: number) => {
    ((results[sys] ??= {})[key] ??= []).push(v);
  };
  let pkiDir: string | null = null;
  try {
    const common = ["--http", String(httpPort), "--iperf", String(iperfPort)];
    if (args.tls) {
      const { makeTestPki } = await import("../../tests/tunnel/_fixtures.ts");
      const pki = await makeTestPki([HOST]);
      pkiDir = pki.dir;
      common.push("--pki", pki.dir);
    }
    const b = await startNode("node-b", dir, ["node-b", ...common]);
    procs.push(b.proc);
    const tun = await startNode("node-a-tunnel", dir, [
      "node-a",
      "--mode",
      "tunnel",
      "--peer",
      `${HOST}:${b.info.port}`,
      ...common,
    ]);
    procs.push(tun.proc);
    const relay = await startNode("node-a-relay", dir, ["node-a", "--mode", "relay", ...common]);
    procs.push(relay.proc);
    let base: { proc: { pid: number }; info: Record<string, number>; b: number } | null = null;
    if (args.compare) {
      const lib = ["--lib", join(args.compare, "lib")];
      const bb = await startNode("node-b-base", dir, ["node-b", ...lib, ...common]);
      procs.push(bb.proc);
      const ab = await startNode("node-a-base", dir, [
        "node-a",
        "--mode",
        "tunnel",
        "--peer",
        `${HOST}:${bb.info.port}`,
        ...lib,
        ...common,
      ]);
      procs.push(ab.proc);
      base = { proc: ab.proc, info: ab.info, b: bb.proc.pid };
    }
    await sleep(300);
    let systems = [
      { name: "direct", http: httpPort, iperf: iperfPort, pids: [] as number[] },
      { name: "relay", http: relay.info.http!, iperf: relay.info.iperf!, pids: [relay.proc.pid] },
      {
        name: "tunnel",
        http: tun.info.http!,
        iperf: tun.info.iperf!,
        pids: [tun.proc.pid, b.proc.pid],
      },
      ...(base
        ? [{
          name: "tunnel@base",
          http: base.info.http!,
          iperf: base.info.iperf!,
          pids: [base.proc.pid, base.b],
        }]
        : []),
    ];
    if (args.only) systems = systems.filter((s) => args.only!.split(",").includes(s.name));
    for (let rep = 0; rep < reps; rep++) {
      for (const s of rotate(systems, rep)) {
        const cpu0 = s.pids.map(cpuSeconds);
        const r = await runCmd([
          "iperf3",
          "-c",
          HOST,
          "-p",
          String(s.iperf),
          "-t",
          String(seconds),
          "-J",
        ], { timeoutMs: (seconds + 30) * 1000 });
        try {
          add(s.name, "gbps", parseIperf3(r.stdout).bitsPerSecond / 1e9);
          s.pids.forEach((pid, i) =>
            add(s.name, `cpu% ${i ? "B" : "A"} tcp`, 100 * (cpuSeconds(pid) - cpu0[i]!) / seconds)
          );
        } catch (err) {
          console.error(`${s.name} iperf3: ${err} ${r.stderr}`);
        }
      }
      for (const conns of [50, 1]) {
        for (const s of rotate(systems, rep)) {
          const cpu0 = s.pids.map(cpuSeconds);
          const r = await runCmd([
            "wrk",
            "-t" + (conns === 1 ? 1 : 2),
            `-c${conns}`,
            `-d${seconds}s`,
            "--latency",
            "-H",
            "Connection: close",
            `http://${HOST}:${s.http}/`,
          ], { timeoutMs: (seconds + 30) * 1000 });
          try {
            const w = parseWrk(r.stdout);
            if (w.socketErrors > 0 || w.non2xx > 0) {
              console.error(
                `${s.name} wrk c${conns}: ${w.socketErrors} errors, ${w.non2xx} non-2xx`,
              );
            }
            add(s.name, `rps c${conns}`, w.requestsPerSec);
            s.pids.forEach((pid, i) =>
              add(
                s.name,
                `cpu% ${i ? "B" : "A"} c${conns}`,
                100 * (cpuSeconds(pid) - cpu0[i]!) / seconds,
              )
            );
            add(s.name, `p50 c${conns}`, w.p50Ms);
            add(s.name, `p99 c${conns}`, w.p99Ms);
          } catch (err) {
            console.error(`${s.name} wrk: ${err} ${r.stderr}`);
          }
        }
      }
      console.error(`rep ${rep + 1}/${reps} done`);
    }
    const keys = ["gbps", "rps c50", "p50 c50", "p99 c50", "rps c1", "p50 c1", "p99 c1"];
    printTable(systems.map((s) => s.name), keys);
    printTable(systems.map((s) => s.name), [
      "cpu% A tcp",
      "cpu% B tcp",
      "cpu% A c50",
      "cpu% B c50",
      "cpu% A c1",
      "cpu% B c1",
    ]);
  } finally {
    if (pkiDir !== null) await Deno.remove(pkiDir, { recursive: true });
    for (const p of procs.reverse()) await p.stop("SIGTERM", 3000).catch(() => {});
    console.error(`logs in ${dir}`);
  }

  function printTable(names: string[], keys: string[]): void {
    console.log(`| system | ${keys.join(" | ")} |`);
    console.log(`| --- | ${keys.map(() => "---").join(" | ")} |`);
    for (const name of names) {
      const row = results[name] ?? {};
      const cells = keys.map((k) => {
        const v = row[k];
        if (!v?.length) return "–";
        const m = median(v);
        const ref = results["relay"]?.[k];
        const ratio = ref?.length && name !== "relay" ? ` (${(m / median(ref)).toFixed(2)}×)` : "";
        return `${
          m.toFixed(k === "gbps" ? 2 : k.startsWith("rps") || k.startsWith("cpu") ? 0 : 2)
        }${ratio}`;
      });
      console.log(`| ${name} | ${cells.join(" | ")} |`);
    }
  }
}

if (positionals[0] === "node-b") await nodeB();
else if (positionals[0] === "node-a") await nodeA();
else await driver();
