// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The JSON view of services served by `query` messages and printed by
 * `edgemesh ctl get … -o json`. This shape is a documented contract (README): scripts rely on
 * it, so add fields only, never rename or remove.
 * @module
 */
import type { ServiceEntry, Snapshot } from "../registry/model.ts";
import { endpointPortFor } from "../registry/model.ts";

/** One service port as shown to users; `targetPort` is a number or a port name. */
export interface PortView {
  readonly name: string;
  readonly protocol: string;
  readonly port: number;
  readonly targetPort: number | string;
}

/** One endpoint address on one resolved port. */
export interface EndpointView {
  readonly ip: string;
  readonly port: number;
  readonly nodeName: string | null;
  readonly ready: boolean;
}

/** A service with its VIP, ports and endpoints (`vip` is null when it has none). */
export interface ServiceView {
  readonly namespace: string;
  readonly name: string;
  readonly vip: string | null;
  /**
   * Only for a service another proxy handles: the value of its label
   * `service.kubernetes.io/service-proxy-name` (such a service has no VIP).
   */
  readonly proxyName?: string;
  /**
   * Only for a service that should have a VIP and has none: why (the subnet was full when
   * the state loaded; it gets the next VIP a change frees).
   */
  readonly vipError?: string;
  readonly ports: readonly PortView[];
  readonly endpoints: readonly EndpointView[];
}

/** Which services to show; null means all. */
export interface ViewFilter {
  readonly namespace: string | null;
  readonly name: string | null;
}

/**
 * The services of `snapshot` matching `filter`, sorted by namespace then name. Each endpoint
 * appears once per distinct port it serves for the service's ports (a named targetPort is
 * resolved per endpoint, as Kubernetes does); endpoints no port resolves for are omitted.
 */
export function serviceViews(snapshot: Snapshot, filter: ViewFilter): ServiceView[] {
  const out: ServiceView[] = [];
  for (const entry of snapshot.services.values()) {
    const svc = entry.service;
    if (filter.namespace !== null && svc.namespace !== filter.namespace) continue;
    if (filter.name !== null && svc.name !== filter.name) continue;
    out.push(serviceView(entry));
  }
  return out.sort((a, b) =>
    a.namespace < b.namespace
      ? -1
      : a.namespace > b.namespace
      ? 1
      : a.name < b.name
      ? -1
      : a.name > b.name
      ? 1
      : 0
  );
}

/** The view of one registry entry. */
export function serviceView(entry: ServiceEntry): ServiceView {
  const svc = entry.service;
  const ports: PortView[] = svc.ports.map((p) => ({
    name: p.name,
    protocol: p.protocol,
    port: p.port,
    targetPort: p.targetPort.kind === "number" ? p.targetPort.port : p.targetPort.name,
  }));
  const endpoints: EndpointView[] = [];
  for (const ep of entry.endpoints) {
    const seen = new Set<number>();
    for (const p of svc.ports) {
      const port = endpointPortFor(ep, p);
      if (port === null || seen.has(port)) continue;
      seen.add(port);
      endpoints.push({ ip: ep.ip, port, nodeName: ep.nodeName, ready: ep.ready });
    }
  }
  return {
    namespace: svc.namespace,
    name: svc.name,
    vip: entry.vip,
    ...(svc.proxyName === undefined ? {} : { proxyName: svc.proxyName }),
    ...(entry.vip === null && entry.vipError !== undefined ? { vipError: entry.vipError } : {}),
    ports,
    endpoints,
  };
}
