// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Micro-benchmark of the DNS server alone: dnsperf (10 clients, as scenario 4 of `make bench`)
 * against one or more {@linkcode DnsServer} builds (`dns_server.ts`, production permission
 * flags) and dnsmasq serving the same names, in one run, inside a network namespace it creates
 * and removes. Cases: 100 service names, and 10 forwarded names once cached (upstream: a second
 * dnsmasq). Every repetition runs every system once, in rotating order; the report gives
 * medians and paired ratios to dnsmasq, and each edgemesh build's RSS peak.
 *
 * ```sh
 * deno run -A bench/micro/dns_qps.ts [--reps 3] [--seconds 5] [--loops N]
 *   [--build base=/tmp/dns-base]   # another source tree (e.g. `git archive HEAD | tar -x`)
 * ```
 * The current tree always runs as `edgemesh`; `--build "name=dir [server flags]"` adds more
 * (repeatable; a dir with its own `bench/micro/dns_server.ts` runs that one, e.g. a bare echo
 * loop for a floor; flags such as `--loops 1` go to that server, `deno:--flag` to deno);
 * `--agent` also runs the whole agent (as `make bench` does: production flags, services over
 * the control socket, DNS on `9.251.0.1:53`) and queries its service names everywhere.
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { permissionFlags } from "../../scripts/permissions.ts";
import { dnsmasqArgs, type HostPort, startDnsmasq } from "../lib/baselines.ts";
import { type Agent, startAgent } from "../lib/agent.ts";
import { type BenchService, serviceChanges, serviceFqdn } from "../lib/k8s.ts";
import { resolveMany } from "../lib/net.ts";
import { rerunInNetns } from "../lib/netns.ts";
import { type Proc, spawnLogged } from "../lib/proc.ts";
import { rssMiB, RssSampler } from "../lib/rss.ts";
import { dnsperf } from "../lib/tools.ts";

const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const SERVER_TS = "bench/micro/dns_server.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    inner: { type: "string" },
    reps: { type: "string", default: "3" },
    seconds: { type: "string", default: "5" },
    loops: { type: "string" },
    build: { type: "string", multiple: true, default: [] },
    cases: { type: "string", default: "svc,fwd" },
    agent: { type: "boolean", default: false },
  },
  strict: true,
});

function log(msg: string): void {
  // deno-lint-ignore no-console
  console.error(`[dns-micro ${new Date().toISOString().slice(11, 19)}] ${msg}`);
}

if (values.inner === undefined) {
  // Outer: own namespace, re-run inside it, always remove it.
  const st = await rerunInNetns(
    "dnsmicro",
    fileURLToPath(import.meta.url),
    (ns) => ["--inner", ns, ...Deno.args],
  );
  if (!st.success) Deno.exitCode = 1;
  Deno.exit();
}

// Inner: everything below runs in the namespace, over loopback.
const dir = await Deno.makeTempDir({ prefix: "dns-micro-" });
const procs: Proc[] = [];
const SERVICES = 100;
let serviceNames = Array.from(
  { length: SERVICES },
  (_, i) => `svc-${i}.dns.svc.cluster.local`,
);
let addrs = serviceNames.map((_, i) => `9.251.${1 + (i >> 8)}.${i & 0xff}`);
const forwardedNames = Array.from({ length: 10 }, (_, i) => `fwd-${i}.bench.test`);
const hosts = (m: [string, string][]) => m.map(([n, ip]) => `${ip} ${n}`).join("\n") + "\n";

/** utime + stime of `pid` in seconds (`/proc/<pid>/stat`, clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

interface System {
  readonly name: string;
  readonly server: HostPort;
  readonly pid?: number;
}

async function startBuild(
  name: string,
  root: string,
  host: string,
  extra: readonly string[] = [],
): Promise<System> {
  const script = join(root, SERVER_TS);
  if (root !== ROOT && !(await Deno.stat(script).catch(() => null))) {
    // An older tree without this script: serve it with its own lib/dns.
    await Deno.mkdir(dirname(script), { recursive: true });
    await Deno.copyFile(join(ROOT, SERVER_TS), script);
  }
  const args = [
    Deno.execPath(),
    "run",
    "--no-prompt",
    "--config",
    join(root, "deno.json"),
    ...extra.filter((a) => a.startsWith("deno:")).map((a) => a.slice(5)),
    ...(extra.includes("deno:-A")
      ? ["--unstable-net"]
      : permissionFlags({ stateDir: dir, runtimeDir: dir, resolvConf: join(dir, "resolv.conf") })),
    script,
    "--listen",
    `${host}:53`,
    "--upstream",
    "127.0.0.6:53",
    ...(values.loops ? ["--loops", values.loops] : []),
    ...extra.filter((a) => !a.startsWith("deno:")),
  ];
  const proc = spawnLogged(name, args, join(dir, `${name}.log`));
  procs.push(proc);
  await proc.waitForLine(/^ready /m, 60_000);
  return { name, server: { host, port: 53 }, pid: proc.pid };
}

let agent: Agent | null = null;
try {
  const systems: System[] = [];
  if (values.agent) {
    const agentDir = join(dir, "agent");
    await Deno.mkdir(agentDir);
    await Deno.writeTextFile(join(dir, "resolv.conf"), "nameserver 127.0.0.6\n");
    agent = await startAgent(Deno.execPath(), {
      name: "agent",
      dir: agentDir,
      config: {
        nodeName: "bench-node",
        dnsListen: ["9.251.0.1:53"],
        upstreams: ["127.0.0.6:53"],
        resolvConf: join(dir, "resolv.conf"),
        metricsListen: "127.0.0.1:9560",
        logLevel: "info",
      },
    });
    procs.push(agent.proc);
    await agent.proc.waitForLine(/agent ready/, 60_000);
    const svcs: BenchService[] = serviceNames.map((_, i) => ({
      namespace: "dns",
      name: `svc-${i}`,
      ports: [{ name: "http", port: 80, targetPort: 8080 }],
      endpoints: [{ ip: "127.0.0.2" }],
    }));
    await agent.apply(svcs.flatMap(serviceChanges));
    const vips = await agent.vips("dns");
    serviceNames = svcs.map((s) => serviceFqdn(s));
    addrs = svcs.map((s) => vips.get(`${s.namespace}/${s.name}`)!);
    systems.push({ name: "agent", server: { host: "9.251.0.1", port: 53 }, pid: agent.proc.pid });
  }
  await Deno.writeTextFile(
    join(dir, "upstream.hosts"),
    hosts(forwardedNames.map((n, i) => [n, `192.0.2.${i + 1}`])),
  );
  procs.push(
    await startDnsmasq(
      dir,
      "upstream",
      dnsmasqArgs("127.0.0.6", join(dir, "upstream.hosts"), { localTtl: 300 }),
      "127.0.0.6",
    ),
  );
  await Deno.writeTextFile(
    join(dir, "dnsmasq.hosts"),
    hosts(serviceNames.map((n, i) => [n, addrs[i]!])),
  );
  const ref = await startDnsmasq(
    dir,
    "dnsmasq",
    dnsmasqArgs("127.0.0.5", join(dir, "dnsmasq.hosts"), { server: "127.0.0.6", localTtl: 5 }),
    "127.0.0.5",
  );
  procs.push(ref);
  systems.unshift({ name: "dnsmasq", server: { host: "127.0.0.5", port: 53 }, pid: ref.pid });
  systems.push(await startBuild("edgemesh", ROOT, "127.0.0.1"));
  let h = 10;
  for (const b of values.build) {
    // name=dir[ --server-flag value …]
    const [spec, ...extra] = b.split(" ");
    const [name, root] = spec!.split("=");
    if (!name || !root) throw new TypeError(`Cannot parse --build "${b}": want name=dir`);
    systems.push(await startBuild(name, root, `127.0.0.${h++}`, extra));
  }
  for (const s of systems) {
    if (s.pid !== undefined) log(`${s.name}: idle RSS ${rssMiB(s.pid)?.toFixed(1)} MiB`);
  }

  const reps = Number(values.reps);
  const seconds = Number(values.seconds);
  const cases = [
    { id: "svc", names: serviceNames },
    { id: "fwd", names: forwardedNames },
  ].filter((c) => values.cases.split(",").includes(c.id));
  type Sample = { qps: number; p50: number; p99: number; rss: number; cpuUs: number };
  const samples = new Map<string, Sample[]>();
  for (const c of cases) {
    const file = join(dir, `${c.id}.queries`);
    await Deno.writeTextFile(file, c.names.map((n) => `${n} A`).join("\n") + "\n");
    for (const s of systems) {
      const got = await resolveMany({ hostname: s.server.host, port: s.server.port }, c.names, 500);
      if (got.size !== c.names.length) log(`${s.name}: warm-up answered ${got.size}`);
    }
    for (let rep = 0; rep < reps; rep++) {
      for (let k = 0; k < systems.length; k++) {
        const s = systems[(k + rep) % systems.length]!;
        const sampler = s.pid !== undefined ? new RssSampler(s.pid) : null;
        const out = join(dir, `${c.id}-${s.name}-${rep}.out`);
        const cpu0 = s.pid !== undefined ? cpuSeconds(s.pid) : 0;
        const r = await dnsperf(s.server, file, 10, seconds, out);
        const cpu = s.pid !== undefined ? cpuSeconds(s.pid) - cpu0 : 0;
        const rss = sampler?.stop() ?? 0;
        const key = `${c.id}/${s.name}`;
        samples.set(key, [...(samples.get(key) ?? []), {
          ...r,
          rss,
          cpuUs: cpu * 1e6 / (r.qps * seconds),
        }]);
        log(
          `${key} rep ${rep}: ${r.qps.toFixed(0)} q/s p50 ${r.p50.toFixed(3)} p99 ${
            r.p99.toFixed(3)
          } ms, ${(cpu * 1e6 / (r.qps * seconds)).toFixed(2)} CPU µs/query, rss ${
            rss.toFixed(1)
          } MiB`,
        );
        await Deno.remove(out);
      }
    }
  }
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
  };
  const lines = [
    "| case | system | q/s | ×dnsmasq | p50 ms | p99 ms | p99 ×dnsmasq | CPU µs/query | ×dnsmasq | RSS peak MiB |",
  ];
  lines.push("|---|---|---|---|---|---|---|---|---|---|");
  for (const c of cases) {
    const ref = samples.get(`${c.id}/dnsmasq`)!;
    for (const s of systems) {
      const xs = samples.get(`${c.id}/${s.name}`)!;
      const ratio = median(xs.map((x, i) => x.qps / ref[i]!.qps));
      const p99r = median(xs.map((x, i) => x.p99 / ref[i]!.p99));
      const cpuR = median(xs.map((x, i) => x.cpuUs / ref[i]!.cpuUs));
      lines.push(
        `| ${c.id} | ${s.name} | ${median(xs.map((x) => x.qps)).toFixed(0)} | ${
          ratio.toFixed(2)
        } | ${median(xs.map((x) => x.p50)).toFixed(3)} | ${
          median(xs.map((x) => x.p99)).toFixed(3)
        } | ${p99r.toFixed(2)} | ${median(xs.map((x) => x.cpuUs)).toFixed(2)} | ${
          cpuR.toFixed(2)
        } | ${Math.max(...xs.map((x) => x.rss)).toFixed(1)} |`,
      );
    }
  }
  // deno-lint-ignore no-console
  console.log(lines.join("\n"));
} finally {
  await Promise.all(procs.map((p) => p.stop("SIGTERM", 3000)));
  await Deno.remove(dir, { recursive: true });
}
