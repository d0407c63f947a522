// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Registry snapshots built by hand for the micro-benchmarks that drive `Proxy.update()`
 * directly, without a registry. Type-only imports from `lib/`, so `proxy_server.ts` can still
 * load another copy of `lib/` (`MICRO_LIB`).
 * @module
 */
import type { ServiceEntry, Snapshot } from "../../lib/registry/model.ts";

/** One ClusterIP service of one TCP port `port` → `targetPort`, with one ready endpoint `ip`. */
export interface OneEndpointService {
  readonly namespace: string;
  readonly name: string;
  readonly vip: string;
  readonly port: number;
  readonly targetPort: number;
  readonly endpointIp: string;
}

/** The registry entry of a {@linkcode OneEndpointService} (port named `http`). */
export function oneEndpointEntry(s: OneEndpointService): ServiceEntry {
  return {
    service: {
      namespace: s.namespace,
      name: s.name,
      kind: { type: "ClusterIP" },
      ports: [{
        name: "http",
        protocol: "TCP",
        port: s.port,
        targetPort: { kind: "number", port: s.targetPort },
      }],
      sessionAffinity: { type: "None" },
    },
    vip: s.vip,
    endpoints: [{
      ip: s.endpointIp,
      ready: true,
      nodeName: null,
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
    vips.set(s.vip, key);
  }
  return { version: 1, services, nodes: new Map(), vips };
}
