// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/** Snapshot and wire builders shared by the DNS tests. */
import { decodeMessage, type DnsRecord } from "../../lib/dns/mod.ts";
import type {
  Endpoint,
  Service,
  ServiceEntry,
  ServicePort,
  Snapshot,
} from "../../lib/registry/model.ts";

/** A service port; `name` "" for unnamed. */
export function port(name: string, p: number, protocol: "TCP" | "UDP" = "TCP"): ServicePort {
  return { name, protocol, port: p, targetPort: { kind: "number", port: p } };
}

/** An endpoint. */
export function ep(ip: string, init: Partial<Endpoint> = {}): Endpoint {
  return {
    ip,
    ready: true,
    nodeName: null,
    hostname: null,
    podName: null,
    ports: [],
    ...init,
  };
}

/** A service entry. */
export function svc(
  namespace: string,
  name: string,
  init: {
    kind?: Service["kind"];
    ports?: ServicePort[];
    vip?: string | null;
    endpoints?: Endpoint[];
    /** Label `service.kubernetes.io/service-proxy-name`: another proxy handles it. */
    proxyName?: string;
  } = {},
): ServiceEntry {
  return {
    service: {
      namespace,
      name,
      kind: init.kind ?? { type: "ClusterIP" },
      ports: init.ports ?? [port("http", 80)],
      sessionAffinity: { type: "None" },
      ...(init.proxyName === undefined ? {} : { proxyName: init.proxyName }),
    },
    vip: init.vip === undefined ? null : init.vip,
    endpoints: init.endpoints ?? [],
    endpointSource: init.endpoints ? "endpoints" : "none",
  };
}

/** A snapshot holding `entries`. */
export function snapshot(entries: ServiceEntry[], version = 1): Snapshot {
  const services = new Map<string, ServiceEntry>();
  const vips = new Map<string, string>();
  for (const e of entries) {
    const key = `${e.service.namespace}/${e.service.name}`;
    services.set(key, e);
    if (e.vip) vips.set(e.vip, key);
  }
  return { version, services, nodes: new Map(), vips };
}

/** The snapshot most DNS tests use. */
export function testSnapshot(): Snapshot {
  return snapshot([
    svc("default", "nginx", { vip: "9.251.0.2", ports: [port("http", 80), port("", 8080)] }),
    svc("prod", "api", {
      vip: "9.251.0.3",
      ports: [port("grpc", 9000), port("metrics", 9100, "UDP")],
    }),
    svc("prod", "udponly", { ports: [port("syslog", 514, "UDP")] }),
    svc("default", "db", {
      kind: { type: "Headless" },
      ports: [port("pg", 5432), port("repl", 5433), port("", 1)],
      endpoints: [
        ep("10.1.0.5", { hostname: "db-0" }),
        ep("10.1.0.6", { hostname: "db-1" }),
        ep("10.1.0.7"),
        ep("10.1.0.8", { hostname: "db-3", ready: false }),
      ],
    }),
    svc("default", "empty", {
      kind: { type: "Headless" },
      endpoints: [ep("10.1.0.9", { ready: false })],
    }),
    svc("default", "ext", { kind: { type: "ExternalName", externalName: "www.example.com" } }),
    svc("default", "alias", {
      kind: { type: "ExternalName", externalName: "nginx.default.svc.cluster.local" },
    }),
    svc("default", "v6", {
      kind: { type: "Headless" },
      endpoints: [ep("fd00::1", { hostname: "six" })],
    }),
  ], 7);
}

/** Compact form of a record: "name TYPE data" (ttl checked separately). */
export function show(r: DnsRecord): string {
  switch (r.type) {
    case "A":
    case "AAAA":
      return `${r.name} ${r.type} ${r.address}`;
    case "CNAME":
    case "PTR":
    case "NS":
      return `${r.name} ${r.type} ${r.target}`;
    case "SRV":
      return `${r.name} SRV ${r.priority} ${r.weight} ${r.port} ${r.target}`;
    case "TXT":
      return `${r.name} TXT ${r.texts.join(",")}`;
    case "SOA":
      return `${r.name} SOA ${r.mname} ${r.rname} ${r.minimum}`;
    case "RAW":
      return `${r.name} TYPE${r.code}`;
  }
}

// Byte builders for upstream answers the codec would not write (compression, malformed).

/** Wire form of a dotted name (no compression). */
export function wireName(name: string): number[] {
  const out: number[] = [];
  for (const label of name.split(".")) out.push(label.length, ...new TextEncoder().encode(label));
  return [...out, 0];
}

/** A compression pointer to `offset` (RFC 1035 §4.1.4). */
export function ptr(offset: number): number[] {
  return [0xc0 | (offset >> 8), offset & 0xff];
}

/** One record: owner bytes, TYPE, CLASS IN, TTL, RDLENGTH (the data's unless given), RDATA. */
export function rr(
  owner: number[],
  type: number,
  ttl: number,
  data: number[],
  rdlen = data.length,
): number[] {
  return [
    ...owner,
    type >> 8,
    type & 0xff,
    0,
    1,
    (ttl >>> 24) & 0xff,
    (ttl >>> 16) & 0xff,
    (ttl >>> 8) & 0xff,
    ttl & 0xff,
    rdlen >> 8,
    rdlen & 0xff,
    ...data,
  ];
}

/**
 * An upstream answer to `q` built byte by byte: our ID and question, the counts given, then
 * the records `body` returns for the offset where they start (for pointers).
 */
export function rawAnswer(
  q: Uint8Array,
  counts: readonly [number, number, number],
  body: (at: number) => number[],
): Uint8Array {
  const qEnd = decodeMessage(q).bytesRead;
  const [an, ns, ar] = counts;
  return new Uint8Array([
    q[0]!,
    q[1]!,
    0x81,
    0x80,
    0,
    1,
    an >> 8,
    an & 0xff,
    ns >> 8,
    ns & 0xff,
    ar >> 8,
    ar & 0xff,
    ...q.subarray(12, qEnd),
    ...body(qEnd),
  ]);
}
