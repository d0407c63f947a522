// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Registry snapshots built by hand for the micro-benchmarks that drive `Proxy.update()`
 * directly, without a registry. Type-only imports from `lib/`, so `proxy_server.ts` can still
 * load another copy of `lib/` (`MICRO_LIB`).
 * @module
 */
import type { ServiceEntry, ServicePort, Snapshot } from "../../lib/registry/model.ts";

/** One ClusterIP service of one TCP port `port` → `targetPort`, with one ready endpoint `ip`. */
export interface OneEndpointService {
  readonly namespace: string;
  readonly name: string;
  /** null: no VIP (the tunnel benchmark's receiving node needs none). */
  readonly vip: string | null;
  readonly port: number;
  readonly targetPort: number;
  readonly endpointIp: string;
  /** The endpoint's node. @default null (local) */
  readonly nodeName?: string;
}

/** The one TCP port (`http`) of a {@linkcode OneEndpointService}. */
export function httpPort(port: number, targetPort: number): ServicePort {
  return { name: "http", protocol: "TCP", port, targetPort: { kind: "number", port: targetPort } };
}

/** The registry entry of a {@linkcode OneEndpointService} (port named `http`). */
export function oneEndpointEntry(s: OneEndpointService): ServiceEntry {
  return {
    service: {
      namespace: s.namespace,
      name: s.name,
      kind: { type: "ClusterIP" },
      ports: [httpPort(s.port, s.targetPort)],
      sessionAffinity: { type: "None" },
    },
    vip: s.vip,
    endpoints: [{
      ip: s.endpointIp,
      ready: true,
      nodeName: s.nodeName ?? null,
      hostname: null,
      podName: null,
      ports: [],
    }],
    endpointSource: "endpoints",
  };
}

/** A snapshot (version 1, no nodes) of these services, keyed `<namespace>/<name>`. */
export function oneEndpointSnapshot(specs: Iterable<OneEndpointService>): Snapshot {
  const services = new Map<string, ServiceEntry>();
  const vips = new Map<string, string>();
  for (const s of specs) {
    const key = `${s.namespace}/${s.name}`;
    services.set(key, oneEndpointEntry(s));
    if (s.vip !== null) vips.set(s.vip, key);
  }
  return { version: 1, services, nodes: new Map(), vips };
}
