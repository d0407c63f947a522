// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Reading one agent's measures for the soak: memory, fds and threads from `/proc/<pid>`, the
 * device's addresses with `ip -n`, listeners and VIPs over the control socket, series and heap
 * from `/metrics` (fetched with curl inside the agent's namespace). All from the host side.
 * @module
 */
import { buildMessage, ControlClient } from "../../lib/control/mod.ts";
import type { StatusInfo } from "../../lib/control/mod.ts";
import { runCmd } from "../lib/proc.ts";
import type { AgentSample } from "./report.ts";

/** Where to find one agent. */
export interface AgentHandle {
  readonly pid: number;
  readonly netns: string;
  readonly socketPath: string;
  /** `host:port` of `/metrics` inside `netns`. */
  readonly metricsAddr: string;
  /** The agent's DNS address (excluded from the VIP listeners). */
  readonly dnsIp: string;
}

/** `/proc/<pid>/status` fields in MiB (`kB` ÷ 1024) or counts; null when absent. */
export function statusField(status: string, field: string): number | null {
  const m = new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(status);
  return m ? Number(m[1]) : null;
}

/** Sample lines of a Prometheus text exposition (comments and blank lines excluded). */
export function seriesCount(text: string): number {
  return text.split("\n").filter((l) => l.length > 0 && !l.startsWith("#")).length;
}

/** Sample lines per metric name (histogram buckets under their `_bucket` name). */
export function seriesByName(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of text.split("\n")) {
    if (l.length === 0 || l.startsWith("#")) continue;
    const name = /^[^{\s]+/.exec(l)![0];
    out[name] = (out[name] ?? 0) + 1;
  }
  return out;
}

/**
 * Sample lines labelled `service="ns/name"` whose service is not in `live`: the series of
 * deleted services, which go once their last connection has ended (lib/proxy/README.md "When a
 * service's series go"), so a count that stays above a handful is a leak.
 */
export function orphanSeries(text: string, live: ReadonlySet<string>): number {
  let n = 0;
  for (const m of text.matchAll(/^[^#\n][^{\n]*\{[^}\n]*\bservice="([^"]*)"/gm)) {
    if (!live.has(m[1]!)) n++;
  }
  return n;
}

/** The `/metrics` text of `agent`, fetched with curl inside its namespace; null on failure. */
export async function fetchMetrics(agent: AgentHandle): Promise<string | null> {
  const r = await runCmd(
    [
      "ip",
      "netns",
      "exec",
      agent.netns,
      "curl",
      "-sf",
      "-m",
      "10",
      `http://${agent.metricsAddr}/metrics`,
    ],
    { timeoutMs: 15_000 },
  );
  return r.code === 0 ? r.stdout : null;
}

/** The value of an unlabelled sample `name`, or null. */
export function metricValue(text: string, name: string): number | null {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})?\\s+(\\S+)`, "m").exec(text);
  return m ? Number(m[1]) : null;
}

/**
 * The `VIP:port/tcp` entries of a status's `listeners`: those on an address of the VIP subnet's
 * /16 (that of `dnsIp`) other than the DNS address; the control socket, DNS, tunnel and
 * metrics listeners excluded.
 */
export function vipListeners(listeners: readonly string[], dnsIp: string): string[] {
  const net = dnsIp.split(".").slice(0, 2).join(".") + ".";
  return listeners.filter((l) =>
    /^\d+\.\d+\.\d+\.\d+:\d+\/tcp(\s|$)/.test(l) && l.startsWith(net) &&
    !l.startsWith(`${dnsIp}:`)
  );
}

/**
 * TCP sockets in LISTEN state in `/proc/<pid>/net/tcp` (the namespace of `pid`) bound to an
 * address of `subnet16` (e.g. `9.251`) other than `dnsIp`: the kernel's view of the VIP
 * listeners, whichever thread holds them.
 */
export function listenSockets(procNetTcp: string, subnet16: string, dnsIp: string): number {
  const hex = (ip: string) =>
    ip.split(".").map((o) => Number(o).toString(16).toUpperCase().padStart(2, "0")).reverse()
      .join("");
  const net = hex(`${subnet16}.0.0`).slice(4);
  const dns = hex(dnsIp);
  let n = 0;
  for (const line of procNetTcp.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    const [addr] = (f[1] ?? "").split(":");
    if (f[3] === "0A" && addr !== undefined && addr.endsWith(net) && addr !== dns) n++;
  }
  return n;
}

/** One control-socket query's content. */
export async function controlQuery(socketPath: string, resource: string): Promise<unknown> {
  const client = await ControlClient.connect(socketPath);
  try {
    const reply = await client.send(
      buildMessage({ operation: "query", resource, source: "edgemesh-soak" }),
    );
    if (!reply.ok) throw new Error(`Query "${resource}" failed: ${reply.error}`);
    return reply.content;
  } finally {
    await client.close();
  }
}

/** A breakdown of the fds of `pid` by target kind (`socket`, `anon_inode:[eventfd]`, a path). */
export function fdKinds(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of Deno.readDirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = Deno.readLinkSync(`/proc/${pid}/fd/${e.name}`);
    } catch {
      continue;
    }
    const kind = target.replace(/^(socket|pipe):\[\d+\]$/, "$1");
    out[kind] = (out[kind] ?? 0) + 1;
  }
  return out;
}

/** The sum of `Threads` over `/proc/<pid>/task` (threads of the process). */
function countDir(path: string): number | null {
  try {
    return [...Deno.readDirSync(path)].length;
  } catch {
    return null;
  }
}

/** Takes every measure of `agent` at `t` seconds; a measure that fails is null. */
export async function sampleAgent(agent: AgentHandle, t: number): Promise<AgentSample> {
  let status = "";
  try {
    status = await Deno.readTextFile(`/proc/${agent.pid}/status`);
  } catch { /* gone */ }
  const kB = (f: string) => {
    const v = statusField(status, f);
    return v === null ? null : v / 1024;
  };
  const [addrs, st, services, metrics] = await Promise.all([
    runCmd(["ip", "-n", agent.netns, "-4", "-o", "addr", "show", "dev", "edge0"], {
      timeoutMs: 10_000,
    }).then((r) =>
      r.code === 0 ? r.stdout.split("\n").filter((l) => l.includes(" inet ")).length : null
    ),
    controlQuery(agent.socketPath, "*/status/*").then((c) => c as StatusInfo).catch(() => null),
    controlQuery(agent.socketPath, "*/services/*")
      .then((c) =>
        c as {
          namespace: string;
          name: string;
          vip: string | null;
          ports: { protocol: string }[];
        }[]
      )
      .catch(() => null),
    fetchMetrics(agent),
  ]);
  let procTcp: string | null = null;
  try {
    procTcp = await Deno.readTextFile(`/proc/${agent.pid}/net/tcp`);
  } catch { /* gone */ }
  const fds = countDir(`/proc/${agent.pid}/fd`);
  const sockets = procTcp === null ? null : listenSockets(procTcp, "9.251", agent.dnsIp);
  const withVip = services?.filter((s) => s.vip !== null) ?? null;
  const heap = metrics === null ? null : metricValue(metrics, "edgemesh_process_heap_used_bytes");
  return {
    t,
    vmRssMiB: kB("VmRSS"),
    rssAnonMiB: kB("RssAnon"),
    rssFileMiB: kB("RssFile"),
    fds,
    otherFds: fds === null || sockets === null ? null : fds - sockets,
    threads: statusField(status, "Threads"),
    addresses: addrs,
    vips: withVip === null ? null : withVip.length,
    listenSockets: sockets,
    listeners: st?.listeners ? vipListeners(st.listeners, agent.dnsIp).length : null,
    wantedListeners: withVip === null
      ? null
      : withVip.reduce((n, s) => n + s.ports.filter((p) => p.protocol === "TCP").length, 0),
    series: metrics === null ? null : seriesCount(metrics),
    orphanSeries: metrics === null || services === null
      ? null
      : orphanSeries(metrics, new Set(services.map((s) => `${s.namespace}/${s.name}`))),
    heapMiB: heap === null ? null : heap / (1024 * 1024),
  };
}
