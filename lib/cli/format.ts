// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Pure rendering of `ctl get` tables and the `ctl status` screen.
 * @module
 */
import type { ServiceView, StatusInfo } from "../control/mod.ts";
import { formatHostPort } from "../netaddr/mod.ts";
import { commitOrigin } from "./build_info.ts";

/** Ready endpoints shown per row before the rest are summarised. */
const MAX_SHOWN_ENDPOINTS = 3;

/** `80/TCP→8080,9100/TCP→metrics` (the arrow shows where traffic goes on the endpoint). */
export function formatPorts(view: ServiceView): string {
  if (view.ports.length === 0) return "<none>";
  return view.ports.map((p) => `${p.port}/${p.protocol}→${p.targetPort}`).join(",");
}

/**
 * `10.0.0.1:8080,10.0.0.2:8080 (+2 not ready)`; more than 3 ready ones end in `+N more`. An
 * IPv6 endpoint is `[fd00::1]:8080` (RFC 3986 §3.2.2): `fd00::1:8080` reads as another address.
 */
export function formatEndpoints(view: ServiceView): string {
  const ready = view.endpoints.filter((e) => e.ready).map((e) => formatHostPort(e.ip, e.port));
  const notReady = view.endpoints.length - ready.length;
  let text = ready.slice(0, MAX_SHOWN_ENDPOINTS).join(",");
  if (ready.length > MAX_SHOWN_ENDPOINTS) text += ` +${ready.length - MAX_SHOWN_ENDPOINTS} more`;
  if (text === "") text = "<none>";
  if (notReady > 0) text += ` (+${notReady} not ready)`;
  return text;
}

/**
 * The VIP column: the VIP, `<none>`, or why there is none: `<none> (service-proxy-name=NAME)`
 * for a service another proxy handles, `<none> (subnet 10.0.0.0/29 is full)` for one the pool
 * had no address for (`vipError` without its `Cannot allocate VIP for "NS/NAME": `).
 */
export function formatVip(view: ServiceView): string {
  if (view.vip !== null) return view.vip;
  if (view.proxyName !== undefined) return `<none> (service-proxy-name=${view.proxyName})`;
  if (view.vipError !== undefined) {
    return `<none> (${view.vipError.replace(/^Cannot allocate VIP for "[^"]*": /, "")})`;
  }
  return "<none>";
}

/** The `ctl get` table: `NAMESPACE NAME VIP PORTS ENDPOINTS`, columns padded. */
export function formatServiceTable(views: readonly ServiceView[]): string {
  const rows = [
    ["NAMESPACE", "NAME", "VIP", "PORTS", "ENDPOINTS"],
    ...views.map((v) => [v.namespace, v.name, formatVip(v), formatPorts(v), formatEndpoints(v)]),
  ];
  return formatTable(rows);
}

/** Left-aligned columns separated by three spaces; the last column is not padded. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, [...cell].length)));
  }
  return rows.map((row) =>
    row.map((cell, i) =>
      i === row.length - 1 ? cell : cell + " ".repeat(widths[i]! - [...cell].length)
    )
      .join("   ")
  ).join("\n") + "\n";
}

/** Certificates that expire within this long get a `Warning:` row in `ctl status`. */
export const CERTIFICATE_WARNING_MS = 14 * 24 * 3600 * 1000;

/** The tunnel certificate's `Warning:` row: expired, or expiring within 14 days. */
function certificateWarning(expiresAt: string | undefined, now: number): [string, string][] {
  if (expiresAt === undefined) return [];
  const left = Date.parse(expiresAt) - now;
  if (!(left < CERTIFICATE_WARNING_MS)) return [];
  return [[
    "Warning",
    left <= 0
      ? `the tunnel TLS certificate expired at ${expiresAt} (${formatDuration(-left)} ago): ` +
        "peers refuse it; renew tunnelTLS.certFile (reloaded without a restart)"
      : `the tunnel TLS certificate expires at ${expiresAt} (in ${formatDuration(left)}): ` +
        "renew tunnelTLS.certFile (reloaded without a restart)",
  ]];
}

/** The `ctl status` screen; parts the agent does not report are shown as "-". */
export function formatStatus(s: StatusInfo, now: number): string {
  const dash = "-";
  const ago = (iso: string | null | undefined) => {
    if (!iso) return iso === null ? "never" : dash;
    const ms = now - Date.parse(iso);
    return Number.isFinite(ms) ? `${iso} (${formatDuration(ms)} ago)` : iso;
  };
  const state = (c: StatusInfo["dns"]) => c ? c.state + (c.detail ? ` (${c.detail})` : "") : dash;
  const list = (items: readonly string[] | undefined, max: number) => {
    if (!items || items.length === 0) return items ? "<none>" : dash;
    const shown = items.slice(0, max).join(", ");
    return items.length > max ? `${shown} (+${items.length - max} more)` : shown;
  };
  const device = s.device
    ? s.device.name +
      (s.device.type || s.device.state
        ? ` (${[s.device.type, s.device.state].filter(Boolean).join(", ")})`
        : "")
    : dash;
  const peers = s.peers
    ? s.peers.length === 0
      ? "<none>"
      : s.peers.map((p) => `${p.name} ${p.address} ${p.state}`).join(", ")
    : dash;
  const c = s.counts;
  const rows: [string, string][] = [
    ["Node", s.node],
    ["Version", s.version ?? dash],
    ...(s.build
      ? [["Commit", `${s.build.commit} (${commitOrigin(s.build.source, s.build.dirty)})`] as [
        string,
        string,
      ]]
      : []),
    ["Started", ago(s.startedAt)],
    ["Device", device],
    ["Addresses", list(s.addresses, 6)],
    ["Services", `${c.services} (${c.vips} with a VIP)`],
    ["Endpoints", String(c.endpoints)],
    ["Nodes", String(c.nodes)],
    ["Listeners", list(s.listeners, 6)],
    ["Proxy", state(s.proxy)],
    ["DNS", state(s.dns)],
    ["Tunnel", state(s.tunnel)],
    ["Peers", peers],
    // `lastSync`: the last change received on the control socket since this start.
    ["Updated", s.lastSync === null ? "no change since start" : ago(s.lastSync)],
    // `lastMessage`: the last change request, changing anything or not (agents before it: no row).
    ...(s.lastMessage === undefined ? [] : [[
      "Received",
      s.lastMessage === null ? "no change request since start" : ago(s.lastMessage),
    ] as [string, string]]),
    ["Registry", registry(s)],
    ...(s.stateWarning ? [["Warning", s.stateWarning] as [string, string]] : []),
    ...certificateWarning(s.tunnel?.certificateExpiresAt, now),
    ...(s.stateWriteError
      ? [[
        "Warning",
        `cannot write state, every change is refused (${s.stateWriteError.refused} since ` +
        `${s.stateWriteError.since}): ${s.stateWriteError.reason}`,
      ] as [string, string]]
      : []),
    ...(s.vipConflicts ?? []).map((c): [string, string] => [
      "Warning",
      `VIP ${c.vip} of ${c.service} is also on ${c.interface}: remove it there or change subnet`,
    ]),
  ];
  return rows.map(([k, v]) => `${(k + ":").padEnd(12)}${v}`).join("\n") + "\n";
}

/**
 * `version 12 (applied)`, `version 12 (reconciling, applied up to 9)` or, after a failed
 * pass, `version 12 (failed, retrying: netdev: <error>; applied up to 9)`.
 */
function registry(s: StatusInfo): string {
  if (s.registryVersion === undefined) return "-";
  const r = s.reconciledVersion;
  if (r === undefined) return `version ${s.registryVersion}`;
  const failed = s.reconcileFailures ?? [];
  if (failed.length > 0) {
    const why = failed.map((f) => `${f.component}: ${f.error}`).join("; ");
    return `version ${s.registryVersion} (failed, retrying: ${why}; applied up to ${r})`;
  }
  return r >= s.registryVersion
    ? `version ${s.registryVersion} (applied)`
    : `version ${s.registryVersion} (reconciling, applied up to ${r})`;
}

/** `3s`, `4m12s`, `2h5m`, `3d4h`. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}
