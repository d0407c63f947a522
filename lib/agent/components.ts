// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Adapters that turn the modules (netdev, proxy, DNS, tunnel) into {@linkcode AgentComponent}s
 * the reconcile loop drives with whole snapshots.
 * @module
 */
import type { ListenAddressWatch } from "./listen_watch.ts";
import type { Config } from "../config/mod.ts";
import type { UnboundListener } from "../control/mod.ts";
import type { DnsServer } from "../dns/mod.ts";
import type { Tunnel } from "../tunnel/mod.ts";
import { isHostPort, parseIpv4, readHostPort } from "../netaddr/mod.ts";
import type { NetDev } from "../netdev/mod.ts";
import type { Proxy } from "../proxy/mod.ts";
import type { Snapshot } from "../registry/mod.ts";
import type { AgentComponent, ReconcilePass } from "./reconcile.ts";

/**
 * The specific IPv4 hosts of `dnsListen` (not a wildcard, not loopback): the device carries
 * them so the DNS server can bind there — by default the subnet's first address.
 */
export function dnsAddressesOnDevice(config: Pick<Config, "dnsListen">): Set<string> {
  const out = new Set<string>();
  for (const l of config.dnsListen) {
    const hp = readHostPort(l, { minPort: 0 });
    if (!isHostPort(hp) || parseIpv4(hp.host) === null) continue;
    if (hp.host !== "0.0.0.0" && !hp.host.startsWith("127.")) out.add(hp.host);
  }
  return out;
}

/** The device: VIPs of the snapshot plus the DNS addresses, one batched `ip` per change. */
export function netdevComponent(netdev: NetDev, extra: ReadonlySet<string>): AgentComponent {
  let lastVips: ReadonlySet<string> | null = null;
  return {
    name: "netdev",
    async update(snapshot: Snapshot, pass: ReconcilePass) {
      // VIP sets change far less often than endpoints: skip the `ip` read when unchanged,
      // except on the periodic resync, which repairs addresses removed behind our back.
      if (!pass.resync && lastVips && sameKeys(lastVips, snapshot.vips)) return;
      const vips = new Set(snapshot.vips.keys());
      await netdev.reconcile(vips, extra);
      lastVips = vips;
    },
    status: () => ({
      device: {
        name: netdev.device,
        ...(netdev.type ? { type: netdev.type } : {}),
        state: netdev.created ? "created" : "adopted",
      },
      addresses: [...netdev.addresses()].sort(compareIp),
    }),
    close: () => netdev.teardown(),
  };
}

/** The L4 proxy: listeners follow the snapshot. */
export function proxyComponent(
  proxy: Pick<Proxy, "update" | "listeners" | "close"> & {
    readonly threads?: number;
    readonly workersStarted?: boolean;
    readonly engine?: string;
  },
): AgentComponent {
  return {
    name: "proxy",
    update: (snapshot) => proxy.update(snapshot),
    status: () => {
      const listeners = proxy.listeners();
      return {
        proxy: {
          state: "up",
          detail: threadsDetail(proxy.threads ?? 1, proxy.workersStarted) +
            (proxy.engine ? `, ${proxy.engine} sockets` : "") + unboundDetail(listeners),
        },
        listeners: listeners.map((l) =>
          `${l.vip}:${l.port}/tcp ${l.service}${l.bound ? "" : ` (bind failed: ${l.error})`}`
        ),
        ...unboundListeners(listeners),
      };
    },
    close: () => proxy.close(),
  };
}

/**
 * `; 1 of 9 listeners not bound: 9.251.0.14:80 (Address in use …)`, or "" when all are: a bind
 * failure fails `/readyz`, and the status line must say why without scrolling the listeners.
 */
export function unboundDetail(
  listeners: readonly { vip: string; port: number; bound: boolean; error: string | null }[],
): string {
  const unbound = listeners.filter((l) => !l.bound);
  if (unbound.length === 0) return "";
  const first = unbound[0]!;
  const more = unbound.length > 1 ? `, +${unbound.length - 1} more` : "";
  return `; ${unbound.length} of ${listeners.length} listeners not bound: ` +
    `${first.vip}:${first.port} (${first.error ?? "unknown error"})${more}`;
}

/** The listeners that are not bound, as `StatusInfo.unboundListeners` (nothing when all are). */
function unboundListeners(
  listeners: readonly {
    service: string;
    vip: string;
    port: number;
    bound: boolean;
    error: string | null;
  }[],
): { unboundListeners?: UnboundListener[] } {
  const out = listeners.filter((l) => !l.bound).map((l) => ({
    service: l.service,
    vip: l.vip,
    port: l.port,
    error: l.error ?? "unknown error",
  }));
  return out.length === 0 ? {} : { unboundListeners: out };
}

/** `1 thread`, `2 threads`, or `1 of 2 threads (the others start when busy)`. */
export function threadsDetail(threads: number, started: boolean | undefined): string {
  if (threads <= 1) return "1 thread";
  if (started === false) return `1 of ${threads} threads (the others start when busy)`;
  return `${threads} threads`;
}

function sameKeys(a: ReadonlySet<string>, b: ReadonlyMap<string, unknown>): boolean {
  if (a.size !== b.size) return false;
  for (const k of b.keys()) if (!a.has(k)) return false;
  return true;
}

function compareIp(a: string, b: string): number {
  return (parseIpv4(a) ?? 0) - (parseIpv4(b) ?? 0);
}

/**
 * Whether two snapshots give the same DNS zone: the zone reads each service's name, kind,
 * ports and VIP, and endpoints only of headless services. Entries the registry did not
 * recompute are the same objects, and an endpoints change keeps the `service` object, so the
 * check is a pass of identity comparisons.
 */
export function sameZoneInputs(a: Snapshot, b: Snapshot): boolean {
  if (a.services === b.services) return true;
  if (a.services.size !== b.services.size) return false;
  for (const [key, next] of b.services) {
    const prev = a.services.get(key);
    if (prev === next) continue;
    if (
      prev === undefined || prev.service !== next.service || prev.vip !== next.vip ||
      next.service.kind.type === "Headless"
    ) return false;
  }
  return true;
}

/**
 * The DNS server: the zone follows the snapshot. Rebuilding the zone costs time in proportion
 * to the whole registry, so snapshots that change nothing the zone reads (endpoint churn of
 * ClusterIP services, node changes) are skipped.
 */
export function dnsComponent(dns: DnsServer): AgentComponent {
  let last: Snapshot | null = null;
  return {
    name: "dns",
    update(snapshot) {
      if (last !== null && sameZoneInputs(last, snapshot)) return;
      dns.update(snapshot);
      last = snapshot;
    },
    status: () => {
      const s = dns.status();
      return {
        dns: {
          state: "up",
          detail: `${s.names} names, upstreams ${s.upstreams.join(",") || "none"}, ` +
            `${s.cacheEntries} cached, udp ${s.udp}`,
        },
        listeners: s.listening.flatMap((l) => [`${l}/udp (dns)`, `${l}/tcp (dns)`]),
      };
    },
    close: () => dns.close(),
  };
}

/**
 * The inter-node tunnel: server authorization and peer table follow the snapshot. Its state is
 * `down` while the tunnel port serves no new connections (its server is being restarted).
 */
export function tunnelComponent(
  tunnel: Tunnel,
  listenAddress: Pick<ListenAddressWatch, "missing"> | null = null,
): AgentComponent {
  return {
    name: "tunnel",
    update: (snapshot) => tunnel.update(snapshot),
    status: () => {
      const s = tunnel.status();
      const down = s.down ?? null;
      // Bound to one address the node no longer has: deaf, though the socket is fine.
      const gone = listenAddress?.missing() ?? null;
      return {
        tunnel: {
          state: down === null && gone === null ? "up" : "down",
          detail: `${s.tls ? "TLS" : "NO TLS"}, ${s.inboundStreams} inbound streams` +
            (down === null ? "" : `; ${tunnelDownDetail(down)}`) +
            (gone === null ? "" : `; tunnelListen address ${gone} is not on this node`),
          ...(s.certificateExpiresAt == null
            ? {}
            : { certificateExpiresAt: new Date(s.certificateExpiresAt).toISOString() }),
        },
        listeners: [`${s.listen}/tcp (tunnel)`],
        peers: s.peers.map((p) => ({
          name: p.node,
          address: p.address,
          state: p.state === "unknown" ? "connecting" : p.state,
        })),
      };
    },
    close: () => tunnel.close(),
  };
}

/** `no new connections since 2026-…Z (Too many open files …), restart in 2 s`. */
export function tunnelDownDetail(
  down: { readonly since: number; readonly error: string; readonly retryAt: number },
  now: number = Date.now(),
): string {
  const inS = Math.max(0, Math.ceil((down.retryAt - now) / 1000));
  return `no new connections since ${new Date(down.since).toISOString()} (${down.error}), ` +
    `restart in ${inS} s`;
}
