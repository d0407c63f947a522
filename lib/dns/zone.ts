// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The cluster zone as an immutable index, built once per registry {@linkcode Snapshot} so that
 * answering a query is a few `Map` lookups.
 *
 * It holds every record of the Kubernetes DNS-Based Service Discovery specification (schema
 * 1.0.1, `kubernetes/dns` `docs/specification.md`), with the edgemesh VIP in place of the
 * ClusterIP; only the deprecated pod records (`a-b-c-d.<ns>.pod.<zone>`) are computed per query,
 * as they exist for every address. Keys are lowercased names without the trailing dot.
 *
 * Endpoint hostnames: the endpoint's `hostname` field when set, otherwise its IP with dots (or
 * IPv6 colons) replaced by dashes (`10.0.0.7` → `10-0-0-7`), as CoreDNS generates them: stable,
 * unique per endpoint within a service, and always a valid DNS label.
 * @module
 */
import { isIpv4, parseIpv6 } from "../netaddr/mod.ts";
import type { SoaFields } from "./message.ts";
import { endpointPortFor, type Snapshot } from "../registry/model.ts";
import { buildAnswerA, hashWire, nameToWire } from "./wire.ts";

/** The DNS schema version we implement (the `dns-version.<zone>` TXT record). */
export const DNS_SCHEMA_VERSION = "1.0.1";

/** Options of {@linkcode buildZone}; the names match the config keys. */
export interface ZoneOptions {
  /** Config `clusterDomain`. @default "cluster.local" */
  readonly clusterDomain?: string;
  /** Config `defaultNamespace`: namespace of bare names. @default "default" */
  readonly defaultNamespace?: string;
  /** Config `dnsTtl`, seconds; also the SOA negative TTL. @default 5 */
  readonly ttl?: number;
}

/** SRV data of one record (RFC 2782). */
export interface SrvTarget {
  readonly priority: number;
  readonly weight: number;
  readonly port: number;
  /** Lowercase FQDN without the trailing dot. */
  readonly target: string;
}

/** Everything that exists at one name of the zone (empty lists = an empty non-terminal). */
export interface ZoneNode {
  readonly a: readonly string[];
  readonly aaaa: readonly string[];
  /** ExternalName target; when set nothing else is at this name (RFC 1034 §3.6.2). */
  readonly cname: string | null;
  readonly srv: readonly SrvTarget[];
  readonly ptr: readonly string[];
  readonly txt: readonly string[];
  /** The zone apex, which holds the SOA. */
  readonly apex: boolean;
}

/** One name the fast path can answer with A records, chained on hash collisions. */
export interface FastEntry {
  /** Lowercased wire-format name. */
  readonly wire: Uint8Array;
  /** Answer RRs with the owner as a pointer to the question (0xC00C). */
  readonly answer: Uint8Array;
  readonly count: number;
  readonly next: FastEntry | null;
}

/** SOA fields of the zone (RFC 1035 §3.3.13). */
export type ZoneSoa = SoaFields;

/** The immutable index {@linkcode buildZone} returns. */
export interface Zone {
  /** Lowercased cluster domain without the trailing dot. */
  readonly domain: string;
  readonly defaultNamespace: string;
  readonly ttl: number;
  /** Snapshot version the zone was built from. */
  readonly version: number;
  /** FQDNs and reverse (in-addr.arpa / ip6.arpa) names we answer. */
  readonly names: ReadonlyMap<string, ZoneNode>;
  /** Short forms of service names (`svc.ns.svc`, `svc.ns`, `svc`) → their FQDN. */
  readonly aliases: ReadonlyMap<string, string>;
  /** Fast-path A answers keyed by {@linkcode hashWire} of the name. */
  readonly fast: ReadonlyMap<number, FastEntry>;
  readonly soa: ZoneSoa;
}

interface MutableNode {
  a: string[];
  aaaa: string[];
  cname: string | null;
  srv: SrvTarget[];
  ptr: string[];
  txt: string[];
  apex: boolean;
}

function emptyNode(): MutableNode {
  return { a: [], aaaa: [], cname: null, srv: [], ptr: [], txt: [], apex: false };
}

/** Normalises a domain: lowercase, no leading or trailing dot. */
export function normalizeName(name: string): string {
  let n = name.toLowerCase();
  if (n.endsWith(".")) n = n.slice(0, -1);
  if (n.startsWith(".")) n = n.slice(1);
  return n;
}

/** The reverse-lookup name of an IPv4 (in-addr.arpa, RFC 1035 §3.5) or IPv6 (ip6.arpa) address. */
export function reverseName(ip: string): string | null {
  if (ip.includes(".") && !ip.includes(":")) {
    const parts = ip.split(".");
    if (parts.length !== 4) return null;
    return `${parts.reverse().join(".")}.in-addr.arpa`;
  }
  const groups = expandIpv6(ip);
  if (groups === null) return null;
  const nibbles: string[] = [];
  for (const g of groups) {
    for (let s = 12; s >= 0; s -= 4) nibbles.push(((g >> s) & 0xf).toString(16));
  }
  return `${nibbles.reverse().join(".")}.ip6.arpa`;
}

/** Parses an IPv6 address into eight 16-bit groups, or null (no dotted IPv4 tail). */
export function expandIpv6(ip: string): number[] | null {
  return parseIpv6(ip, { embeddedIpv4: false });
}

/** The generated hostname of an endpoint without `hostname` (see the module doc). */
export function generatedHostname(ip: string): string {
  return ip.toLowerCase().replace(/[.:]/g, "-");
}

function pushUnique<T>(list: T[], v: T): void {
  if (!list.includes(v)) list.push(v);
}

/**
 * Builds the zone for `snapshot`. Pure: the same input gives an equal zone.
 *
 * Headless services (`clusterIP: None`) with no ready endpoint are left out entirely, so their
 * names are NXDOMAIN as the specification (§2.4.1) says.
 */
export function buildZone(snapshot: Snapshot, options: ZoneOptions = {}): Zone {
  const domain = normalizeName(options.clusterDomain ?? "cluster.local");
  const defaultNamespace = (options.defaultNamespace ?? "default").toLowerCase();
  const ttl = options.ttl ?? 5;
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > 2147483647) {
    throw new RangeError(`Cannot build DNS zone: ttl ${ttl} is out of range`);
  }
  const names = new Map<string, MutableNode>();
  const aliases = new Map<string, string>();
  const node = (name: string): MutableNode => {
    let n = names.get(name);
    if (!n) {
      n = emptyNode();
      names.set(name, n);
    }
    return n;
  };

  node(domain).apex = true;
  node(`dns-version.${domain}`).txt.push(DNS_SCHEMA_VERSION);

  for (const entry of snapshot.services.values()) {
    const svc = entry.service;
    const ns = svc.namespace.toLowerCase();
    const name = svc.name.toLowerCase();
    const fqdn = `${name}.${ns}.svc.${domain}`;
    // Short forms, as the original edgemesh answered them. They exist only while the service
    // does, but then they shadow real names spelled the same: with a namespace named like a
    // top-level domain (`test`, `dev`, `io`), `<svc>.<ns>` is also an Internet name (README).
    aliases.set(`${name}.${ns}.svc`, fqdn);
    aliases.set(`${name}.${ns}`, fqdn);
    if (ns === defaultNamespace) aliases.set(name, fqdn);

    const kind = svc.kind;
    if (kind.type === "ExternalName") {
      node(fqdn).cname = normalizeName(kind.externalName);
      continue;
    }
    if (kind.type === "ClusterIP") {
      const n = node(fqdn);
      if (entry.vip !== null) {
        n.a.push(entry.vip);
        const rev = reverseName(entry.vip);
        if (rev) pushUnique(node(rev).ptr, fqdn);
      }
      // An SRV target must have an address (RFC 2782 "Target"): a service without a VIP from
      // us — another proxy's, one with no TCP port (UDP/SCTP are not proxied), one the full
      // pool left without — has only its name (NODATA for every type).
      if (svc.proxyName !== undefined || entry.vip === null) continue;
      for (const port of svc.ports) {
        if (port.name === "") continue; // spec §2.3.2: unnamed ports have no SRV record
        const srvName = `_${port.name.toLowerCase()}._${port.protocol.toLowerCase()}.${fqdn}`;
        node(srvName).srv.push({ priority: 0, weight: 100, port: port.port, target: fqdn });
      }
      continue;
    }
    // Headless: ready endpoints only (spec §2.1 "ready").
    const ready = entry.endpoints.filter((ep) => ep.ready);
    if (ready.length === 0) continue;
    const n = node(fqdn);
    for (const ep of ready) {
      const host = (ep.hostname ?? generatedHostname(ep.ip)).toLowerCase();
      const hostFqdn = `${host}.${fqdn}`;
      const hn = node(hostFqdn);
      if (isIpv4(ep.ip)) {
        pushUnique(n.a, ep.ip);
        pushUnique(hn.a, ep.ip);
      } else {
        pushUnique(n.aaaa, ep.ip.toLowerCase());
        pushUnique(hn.aaaa, ep.ip.toLowerCase());
      }
      const rev = reverseName(ep.ip);
      if (rev) pushUnique(node(rev).ptr, hostFqdn);
      for (const port of svc.ports) {
        if (port.name === "") continue;
        const srvName = `_${port.name.toLowerCase()}._${port.protocol.toLowerCase()}.${fqdn}`;
        const p = endpointPortFor(ep, port) ?? port.port;
        const list = node(srvName).srv;
        if (!list.some((s) => s.target === hostFqdn && s.port === p)) {
          list.push({ priority: 0, weight: 100, port: p, target: hostFqdn });
        }
      }
    }
  }

  // Empty non-terminals (e.g. `default.svc.<zone>`, `_tcp.nginx.default.svc.<zone>`) exist:
  // NODATA, not NXDOMAIN, for them (RFC 8020).
  const suffix = `.${domain}`;
  for (const name of [...names.keys()]) {
    if (!name.endsWith(suffix)) continue;
    let parent = name.slice(name.indexOf(".") + 1);
    while (parent.length > domain.length && !names.has(parent)) {
      names.set(parent, emptyNode());
      parent = parent.slice(parent.indexOf(".") + 1);
    }
  }

  const fast = new Map<number, FastEntry>();
  const addFast = (name: string, ips: readonly string[]) => {
    let wire: Uint8Array;
    try {
      wire = nameToWire(name);
    } catch {
      return; // not representable (over-long name): the slow path answers it
    }
    const h = hashWire(wire);
    fast.set(h, {
      wire,
      answer: buildAnswerA(ips, ttl),
      count: ips.length,
      next: fast.get(h) ?? null,
    });
  };
  for (const [name, n] of names) if (n.a.length > 0) addFast(name, n.a);
  for (const [alias, target] of aliases) {
    const n = names.get(target);
    if (n && n.a.length > 0 && !names.has(alias)) addFast(alias, n.a);
  }

  const frozen = new Map<string, ZoneNode>();
  for (const [k, v] of names) frozen.set(k, Object.freeze({ ...v }));
  return {
    domain,
    defaultNamespace,
    ttl,
    version: snapshot.version,
    names: frozen,
    aliases,
    fast,
    soa: {
      mname: `ns.dns.${domain}`,
      rname: `hostmaster.${domain}`,
      serial: snapshot.version >>> 0,
      refresh: 7200,
      retry: 1800,
      expire: 86400,
      minimum: ttl,
    },
  };
}
