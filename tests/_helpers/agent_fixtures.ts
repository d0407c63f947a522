// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Shared fixtures for namespace tests that drive a real agent (`tests/_helpers/agent.ts`):
 * Kubernetes object builders, `edgemesh ctl` and raw control-socket access, client scripts run
 * inside the agent's namespace (`tests/netns/_clients/`), backends that reply with their name
 * or echo, and readers for the device's addresses and the namespace's listening sockets.
 *
 * The test process lives in the host's network namespace, so every TCP/UDP client and backend
 * runs as a process inside the namespace. The control socket is a path on the shared
 * filesystem, so the test talks to it directly.
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ControlClient, type Reply, type ServiceView } from "../../lib/control/mod.ts";
import { CommandError } from "../../lib/netdev/exec.ts";
import { type AgentProcess, DENO_JSON, denoRunArgs } from "./agent.ts";
import { type ChildOutput, runDeno } from "./child.ts";
import type { TempNetns } from "./netns.ts";

const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));

/** Directory of the client scripts run inside namespaces. */
export const CLIENTS_DIR: string = join(ROOT, "tests", "netns", "_clients");

/** Bound on any single wait in these helpers; only a failure guard, always cleared. */
const BOUND_MS = 60_000;

// ── Kubernetes objects ──────────────────────────────────────────────────────────────────

/** A port of {@linkcode serviceObject}: `targetPort` a number or a (container) port name. */
export interface ServicePortSpec {
  readonly name: string;
  readonly port: number;
  readonly targetPort: number | string;
}

/** A `v1.Service` (ClusterIP, TCP; `clusterIP: "None"` when `headless`). */
export function serviceObject(
  name: string,
  ports: readonly ServicePortSpec[],
  options: { namespace?: string; headless?: boolean } = {},
): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: options.namespace ?? "default" },
    spec: {
      type: "ClusterIP",
      ...(options.headless ? { clusterIP: "None" } : {}),
      selector: { app: name },
      ports: ports.map((p) => ({ ...p, protocol: "TCP" })),
    },
  };
}

/** One subset of {@linkcode endpointsObject}: ready and not-ready addresses sharing `ports`. */
export interface SubsetSpec {
  readonly addresses: readonly string[];
  readonly notReady?: readonly string[];
  readonly ports: readonly { readonly name: string; readonly port: number }[];
}

/** A `v1.Endpoints` with the given subsets (`nodeName` unset: every endpoint is local). */
export function endpointsObject(
  name: string,
  subsets: readonly SubsetSpec[],
  options: { namespace?: string } = {},
): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Endpoints",
    metadata: { name, namespace: options.namespace ?? "default" },
    subsets: subsets.map((s) => ({
      addresses: s.addresses.map((ip) => ({ ip })),
      ...(s.notReady ? { notReadyAddresses: s.notReady.map((ip) => ({ ip })) } : {}),
      ports: s.ports.map((p) => ({ ...p, protocol: "TCP" })),
    })),
  };
}

// ── Control socket and `edgemesh ctl` ────────────────────────────────────────────────────

/** Outcome of one `edgemesh ctl` run. */
export type CtlResult = ChildOutput;

/**
 * Runs the real CLI, `main.ts ctl --socket <agent's socket> ARGS…`, with `stdin` piped in
 * (`apply -f -`). Resolves with the exit code and output; never throws on a non-zero exit.
 */
export function ctl(
  agent: Pick<AgentProcess, "socketPath">,
  args: readonly string[],
  stdin?: string,
): Promise<CtlResult> {
  return runDeno(
    denoRunArgs(["-A"], ["ctl", "--socket", agent.socketPath, ...args]),
    stdin,
    ROOT,
  );
}

/**
 * `ctl apply -f -` with the objects as a multi-document YAML stream (JSON documents), then
 * waits until the agent has {@linkcode settled} (agent at `logLevel: "debug"`).
 * @throws {Error} with the CLI's output when it exits non-zero
 */
export async function applyObjects(
  agent: Pick<AgentProcess, "socketPath" | "waitForLog">,
  objects: readonly Record<string, unknown>[],
): Promise<string> {
  const text = objects.map((o) => `---\n${JSON.stringify(o)}\n`).join("");
  const r = await ctl(agent, ["apply", "-f", "-"], text);
  if (r.code !== 0) {
    throw new Error(`ctl apply exited ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
  await settled(agent);
  return r.stdout;
}

/**
 * `ctl get services -o json`, parsed.
 * @throws {Error} with the CLI's output when it exits non-zero
 */
export async function getServices(
  agent: Pick<AgentProcess, "socketPath">,
): Promise<ServiceView[]> {
  const r = await ctl(agent, ["get", "services", "-o", "json"]);
  if (r.code !== 0) {
    throw new Error(`ctl get exited ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
  return JSON.parse(r.stdout) as ServiceView[];
}

/** The VIP of `namespace/name` per `ctl get services -o json`. */
export async function vipOf(
  agent: Pick<AgentProcess, "socketPath">,
  name: string,
  namespace = "default",
): Promise<string | null> {
  const view = (await getServices(agent)).find((v) => v.name === name && v.namespace === namespace);
  if (!view) throw new Error(`Cannot find service "${namespace}/${name}" in ctl get`);
  return view.vip;
}

/**
 * Sends raw lines on one control-socket connection (pipelined, as KubeEdge would) and
 * resolves with the replies in order.
 */
export async function sendLines(socketPath: string, lines: readonly string[]): Promise<Reply[]> {
  const client = await ControlClient.connect(socketPath);
  try {
    return await Promise.all(lines.map((l) => client.send(l)));
  } finally {
    await client.close();
  }
}

/**
 * Resolves once the agent has reconciled everything acknowledged so far: device addresses,
 * listeners and DNS follow the registry. A control-socket `ok` means durable, not live, so
 * tests call this between an apply/delete and traffic. Needs the agent at `logLevel: "debug"`
 * (the reconciler logs `msg=reconciled version=N` per pass; the newest version is always
 * applied last). Returns the registry version waited for.
 */
export async function settled(
  agent: Pick<AgentProcess, "socketPath" | "waitForLog">,
): Promise<number> {
  const [reply] = await sendLines(agent.socketPath, [
    JSON.stringify({ route: { operation: "query", resource: "*/status/*" } }),
  ]);
  const version = (reply?.content as { registryVersion?: unknown } | undefined)?.registryVersion;
  if (!reply?.ok || typeof version !== "number") {
    throw new Error(`Cannot read registryVersion from ctl status: ${JSON.stringify(reply)}`);
  }
  await agent.waitForLog(
    new RegExp(
      `msg=reconciled .*\\bversion=${version}(\\s|$)|"msg":"reconciled".*"version":${version}\\b`,
    ),
    BOUND_MS,
  );
  return version;
}

// ── Client scripts inside the namespace ─────────────────────────────────────────────────

function clientArgv(script: string, args: readonly string[]): string[] {
  return [
    Deno.execPath(),
    "run",
    "--no-prompt",
    "--config",
    DENO_JSON,
    "-A",
    "--unstable-net",
    join(CLIENTS_DIR, script),
    ...args,
  ];
}

/** Runs `tests/netns/_clients/<script> ARGS…` inside `ns` and parses its JSON output. */
export async function runClient<T>(
  ns: TempNetns,
  script: string,
  args: readonly (string | number)[],
): Promise<T> {
  const out = await ns.run(clientArgv(script, args.map(String)));
  return JSON.parse(out) as T;
}

/**
 * `connect.ts`: `count` sequential connections to `host:port` inside `ns`; each entry is the
 * reply text or `"error:<name>"`.
 */
export function connectMany(
  ns: TempNetns,
  host: string,
  port: number,
  count: number,
): Promise<string[]> {
  return runClient<string[]>(ns, "connect.ts", [host, port, count]);
}

/** A long-running client script inside a namespace, spoken to in lines on stdin/stdout. */
export interface LineProcess extends AsyncDisposable {
  /** The next stdout line (waits for it). */
  readLine(): Promise<string>;
  /** Writes `line` and a newline to stdin. */
  writeLine(line: string): Promise<void>;
  /** Closes stdin (the scripts exit at EOF) and resolves with the rest of stdout. */
  finish(): Promise<string>;
}

/** Spawns `tests/netns/_clients/<script>` inside `ns` with piped stdin/stdout. */
export function spawnClient(ns: TempNetns, script: string, args: readonly string[]): LineProcess {
  const child = ns.spawn(clientArgv(script, args), {
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  });
  const stdin = child.stdin.getWriter();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const stderr = new Response(child.stderr).text();
  let buffered = "";
  let done = false;
  let stdinOpen = true;
  const exited = child.status;

  const closeStdin = async () => {
    if (!stdinOpen) return;
    stdinOpen = false;
    await stdin.close().catch(() => {});
  };
  const bounded = <T>(p: Promise<T>, what: string): Promise<T> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const bound = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${script}: no ${what} within ${BOUND_MS} ms`)),
        BOUND_MS,
      );
    });
    return Promise.race([p, bound]).finally(() => clearTimeout(timer));
  };
  const readLine = async (): Promise<string> => {
    for (;;) {
      const nl = buffered.indexOf("\n");
      if (nl >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        return line;
      }
      if (done) {
        const status = await exited;
        throw new Error(
          `${script} exited with code ${status.code} before a line; stderr:\n${await stderr}`,
        );
      }
      const r = await bounded(reader.read(), "output line");
      if (r.done) done = true;
      else buffered += r.value;
    }
  };
  const finish = async (): Promise<string> => {
    await closeStdin();
    while (!done) {
      const r = await bounded(reader.read(), "exit");
      if (r.done) done = true;
      else buffered += r.value;
    }
    const status = await exited;
    const err = await stderr;
    if (!status.success) throw new Error(`${script} exited with code ${status.code}:\n${err}`);
    const rest = buffered;
    buffered = "";
    return rest;
  };
  return {
    readLine,
    writeLine: (line) => stdin.write(new TextEncoder().encode(line + "\n")),
    finish,
    async [Symbol.asyncDispose]() {
      await closeStdin();
      if (!done) {
        // Still running after stdin EOF is a bug in the script; do not hang the test on it.
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(timer);
        await reader.cancel().catch(() => {});
      }
      await exited;
      await stderr;
    },
  };
}

/**
 * An address for backends inside a namespace that may be an endpoint: the agent refuses
 * endpoints on loopback (127.0.0.0/8), unspecified and link-local addresses, as Kubernetes
 * does. {@linkcode addBackendAddress} puts it on the namespace's `lo`.
 */
export const BACKEND_IP = "10.254.0.1";

/** Adds `ip` (default {@linkcode BACKEND_IP}) as a /32 on `lo` inside `ns`; returns it. */
export async function addBackendAddress(ns: TempNetns, ip = BACKEND_IP): Promise<string> {
  await ns.run(["ip", "addr", "add", `${ip}/32`, "dev", "lo"]);
  return ip;
}

/** Backends started by {@linkcode startBackends}. */
export interface Backends extends AsyncDisposable {
  /** Port of each backend by name (all on the `host` they were started on). */
  readonly ports: Readonly<Record<string, number>>;
  /** Closes one backend (listener and open connections) and waits until it is closed. */
  stop(name: string): Promise<void>;
}

/**
 * Starts TCP backends inside `ns` (one process, `backends.ts`): `name:NAME` replies with its
 * name and closes, `echo:NAME` echoes and half-closes at EOF. Each listens on `host`, port 0.
 */
export async function startBackends(
  ns: TempNetns,
  specs: readonly string[],
  host = "127.0.0.1",
): Promise<Backends> {
  const proc = spawnClient(ns, "backends.ts", ["--host", host, ...specs]);
  let ports: Record<string, number>;
  try {
    ports = JSON.parse(await proc.readLine());
  } catch (err) {
    await proc[Symbol.asyncDispose]();
    throw err;
  }
  return {
    ports,
    async stop(name) {
      await proc.writeLine(`stop ${name}`);
      const line = await proc.readLine();
      if (line !== `stopped ${name}`) throw new Error(`Cannot stop backend "${name}": ${line}`);
    },
    [Symbol.asyncDispose]: () => proc[Symbol.asyncDispose](),
  };
}

// ── Device and sockets in the namespace ──────────────────────────────────────────────────

/** IPv4 addresses on `device` inside `ns` (`ip -json addr show`), sorted; null when absent. */
export async function deviceAddresses(ns: TempNetns, device = "edge0"): Promise<string[] | null> {
  let out: string;
  try {
    out = await ns.run(["ip", "-json", "-4", "addr", "show", "dev", device]);
  } catch (err) {
    if (err instanceof CommandError && /does not exist/.test(err.stderr)) return null;
    throw err;
  }
  const links = JSON.parse(out) as { addr_info?: { family: string; local: string }[] }[];
  return links.flatMap((l) => (l.addr_info ?? []).map((a) => a.local)).sort(byAddress);
}

/** Whether a link named `device` exists inside `ns` (`ip link show`). */
export async function linkExists(ns: TempNetns, device = "edge0"): Promise<boolean> {
  try {
    await ns.run(["ip", "link", "show", device]);
    return true;
  } catch (err) {
    if (err instanceof CommandError) return false;
    throw err;
  }
}

/** `host:port` of every listening TCP socket inside `ns` (`ss -Hltn`), sorted. */
export async function tcpListeners(ns: TempNetns): Promise<string[]> {
  const out = await ns.run(["ss", "-Hltn"]);
  return out.split("\n").filter((l) => l.trim()).map((l) => l.trim().split(/\s+/)[3]!).sort();
}

/** Orders dotted-quad IPv4 addresses numerically. */
export function byAddress(a: string, b: string): number {
  const n = (s: string) => s.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
  return n(a) - n(b);
}

// ── DNS ──────────────────────────────────────────────────────────────────────────────────

/** One query of {@linkcode dnsQueries}. */
export interface DnsQuery {
  /** `resolve` (Deno.resolveDns, UDP), or a raw query over `udp` or `tcp` (see dns_query.ts). */
  readonly via: "resolve" | "udp" | "tcp";
  readonly name: string;
  readonly type: string;
  /** The local address a `udp` query is sent from. @default any (the kernel picks) */
  readonly source?: string;
}

/** Outcome of a `resolve` query. */
export type ResolveResult = { readonly answers: unknown[] } | { readonly error: string };

/** Outcome of a raw `udp`/`tcp` query (dns_query.ts's own reading of the reply). */
export interface RawResult {
  readonly rcode: string;
  readonly aa: boolean;
  readonly answers: { readonly name: string; readonly type: string; readonly data: unknown }[];
  readonly authorities: { readonly name: string; readonly type: string }[];
}

/**
 * Runs `queries` one after another from inside `ns` against `server:port` (one client
 * process, `dns_query.ts`) and returns one result per query.
 */
export function dnsQueries(
  ns: TempNetns,
  queries: readonly DnsQuery[],
  server = "9.251.0.1",
  port = 53,
): Promise<(ResolveResult | RawResult)[]> {
  return runClient(ns, "dns_query.ts", [server, port, JSON.stringify(queries)]);
}

/** An upstream DNS server started by {@linkcode startUpstreamDns}. */
export interface UpstreamDns extends AsyncDisposable {
  /** Its UDP port on 127.0.0.1 (or the `listen` address) inside the namespace. */
  readonly port: number;
  /** Stops it and resolves with every question it was asked, as `"<name> <type>"`. */
  finish(): Promise<string[]>;
}

/**
 * Starts `dns_upstream.ts` inside `ns`: answers A for `records` (`name → IPv4`, only data in
 * answers) and NXDOMAIN for everything else, and records the questions it gets. It listens on
 * 127.0.0.1 port 0, or on `options.listen` (`host:port`).
 */
export async function startUpstreamDns(
  ns: TempNetns,
  records: Readonly<Record<string, string>>,
  options: { readonly listen?: string } = {},
): Promise<UpstreamDns> {
  const proc = spawnClient(ns, "dns_upstream.ts", [
    ...(options.listen === undefined ? [] : [`--listen=${options.listen}`]),
    ...Object.entries(records).map(([name, ip]) => `${name}=${ip}`),
  ]);
  let port: number;
  try {
    port = Number(await proc.readLine());
  } catch (err) {
    await proc[Symbol.asyncDispose]();
    throw err;
  }
  return {
    port,
    finish: async () => JSON.parse(await proc.finish()) as string[],
    [Symbol.asyncDispose]: () => proc[Symbol.asyncDispose](),
  };
}
