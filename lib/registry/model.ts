// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The agent's own stripped-down, readonly model of services, endpoints and nodes.
 *
 * Like CoreDNS's `kubernetes/object`, only the fields we need are kept; Kubernetes shapes are
 * converted at the boundary (`convert.ts`) and nothing downstream sees wire or API objects.
 * Do not add fields casually: every consumer (proxy, DNS, tunnel, persistence) reads this.
 * @module
 */

/** Transport protocol of a service port (Kubernetes `ServicePort.protocol`). */
export type Protocol = "TCP" | "UDP" | "SCTP";

/**
 * `ServicePort.targetPort`: a number, or the name of a container/endpoint port
 * (resolved per endpoint, which is what makes named targetPorts work).
 */
export type TargetPort =
  | { readonly kind: "number"; readonly port: number }
  | { readonly kind: "name"; readonly name: string };

/** One port of a service. */
export interface ServicePort {
  /** `ServicePort.name`; "" when the service has a single unnamed port. */
  readonly name: string;
  readonly protocol: Protocol;
  /** The port clients connect to on the VIP. */
  readonly port: number;
  readonly targetPort: TargetPort;
}

/** Load-balancing strategy; `RoundRobin` is the default (config `lbStrategy`). */
export type LbStrategy = "RoundRobin" | "Random";

/** `spec.sessionAffinity` (+ `sessionAffinityConfig.clientIP.timeoutSeconds`, default 10800). */
export type SessionAffinity =
  | { readonly type: "None" }
  | { readonly type: "ClientIP"; readonly timeoutSeconds: number };

/**
 * What kind of service this is: a normal one (gets a VIP when it has a TCP port), headless
 * (`clusterIP: None`, DNS answers endpoint addresses), or `type: ExternalName` (DNS CNAME).
 */
export type ServiceKind =
  | { readonly type: "ClusterIP" }
  | { readonly type: "Headless" }
  | { readonly type: "ExternalName"; readonly externalName: string };

/**
 * `spec.internalTrafficPolicy` (Kubernetes 1.26 GA, KEP-2086): `Cluster` (the default) sends
 * traffic from this node to every usable endpoint; `Local` only to endpoints whose `nodeName`
 * is this node's, and drops it when there is none (kube-proxy's `CategorizeEndpoints`).
 */
export type InternalTrafficPolicy = "Cluster" | "Local";

/** Annotation overriding the global `lbStrategy` for one service. */
export const LB_STRATEGY_ANNOTATION = "edgemesh.kubeedge.io/lb-strategy";

/**
 * The resource types of KubeEdge messages (the middle token of `route.resource`,
 * `<namespace>/<type>/<name>`) the control socket accepts and the registry understands.
 */
export type ResourceType =
  | "service"
  | "servicelist"
  | "endpoints"
  | "endpointslice"
  | "pod"
  | "podlist"
  | "node";

/** All {@linkcode ResourceType} values, in the order error messages list them. */
export const RESOURCE_TYPES: readonly ResourceType[] = [
  "service",
  "servicelist",
  "endpoints",
  "endpointslice",
  "pod",
  "podlist",
  "node",
];

/** Message operations that change the registry; `insert` and `update` are both upserts. */
export type ChangeOperation = "insert" | "update" | "delete";

/**
 * What an applied change did, as far as its sender may need to know. Deleting something absent
 * succeeds (a KubeEdge sender replaying deletes must not see errors), so `found` is the only way
 * to tell a removal from a no-op: `ctl delete` reports the latter as NotFound, as kubectl does.
 */
export type ChangeResult =
  & (
    | { readonly operation: "insert" | "update" }
    | {
      readonly operation: "delete";
      /** Whether the object was in the registry (and is now removed). */
      readonly found: boolean;
    }
  )
  & {
    /**
     * Set when the change left the stored state as it was (the same records, compared as
     * stored; a delete of something absent): nothing was written and the version did not move.
     */
    readonly unchanged?: true;
  };

/** A service as the agent sees it. */
export interface Service {
  readonly namespace: string;
  readonly name: string;
  readonly kind: ServiceKind;
  readonly ports: readonly ServicePort[];
  readonly sessionAffinity: SessionAffinity;
  /** From the {@linkcode LB_STRATEGY_ANNOTATION} annotation; undefined → global strategy. */
  readonly lbStrategy?: LbStrategy;
  /**
   * Label `service.kubernetes.io/service-proxy-name` (any value, `""` too): another proxy
   * handles the service ("tells kube-proxy to ignore this service for proxying", Kubernetes'
   * well-known labels), so edgemesh gives it no VIP and does not proxy it; it stays in the
   * registry and in DNS. Undefined: edgemesh proxies it.
   */
  readonly proxyName?: string;
  /**
   * `spec.internalTrafficPolicy`; undefined means `Cluster` (the API default, and every service
   * stored before the field was recorded). Only `Local` is ever set.
   */
  readonly internalTrafficPolicy?: InternalTrafficPolicy;
  /**
   * `spec.publishNotReadyAddresses`: endpoints the agent derives from pods are ready whatever
   * their readiness, as the EndpointSlice controller makes them. Endpoints and EndpointSlices
   * already carry it (their controller applied it). Only `true` is ever set.
   */
  readonly publishNotReadyAddresses?: boolean;
}

/** One named port of an endpoint (Endpoints `subsets[].ports[]`, EndpointSlice `ports[]`). */
export interface EndpointPort {
  readonly name: string;
  readonly port: number;
  readonly protocol: Protocol;
}

/** One backend address of a service. */
export interface Endpoint {
  readonly ip: string;
  /**
   * Ready addresses carry traffic; not-ready ones are kept for `ctl get`, and carry traffic only
   * when serving and terminating and no endpoint is ready (see {@linkcode isServingTerminating}).
   */
  readonly ready: boolean;
  /**
   * EndpointSlice `conditions.terminating` (KEP-1672), or a pod with `deletionTimestamp` set:
   * the endpoint is shutting down. Undefined means false: the API's nil, addresses of Endpoints
   * objects (which list no terminating pods), and state written before it was recorded.
   */
  readonly terminating?: boolean;
  /**
   * EndpointSlice `conditions.serving` (KEP-1672: "ready" regardless of terminating; nil means
   * true), or a terminating pod's `Ready` condition. Recorded only with `terminating` (where
   * kube-proxy reads it: KEP-1669); undefined means the same as `ready`.
   */
  readonly serving?: boolean;
  /**
   * The node the endpoint runs on; null when unknown (dialled like a local one, but never
   * local for `internalTrafficPolicy: Local`, as in kube-proxy).
   */
  readonly nodeName: string | null;
  /** Endpoint `hostname` (headless DNS records), or null. */
  readonly hostname: string | null;
  /** Name of the pod behind it (`targetRef.name`), or null. */
  readonly podName: string | null;
  /** Ports the endpoint serves, matched to service ports by name. */
  readonly ports: readonly EndpointPort[];
}

/** Where a service's endpoints came from; Endpoints/EndpointSlices win over pods. */
export type EndpointSource = "endpoints" | "endpointslice" | "podlist" | "none";

/** A node known from Node objects (`status.addresses`). */
export interface NodeInfo {
  readonly name: string;
  /** `status.addresses`, in the order given. */
  readonly addresses: readonly { readonly type: string; readonly address: string }[];
}

/** A service with everything derived for it. */
export interface ServiceEntry {
  readonly service: Service;
  /** The allocated virtual IP, or null (headless, ExternalName, no TCP port, pool full). */
  readonly vip: string | null;
  /** Why `vip` is null when it should not be (e.g. pool exhausted), for `ctl get`/logs. */
  readonly vipError?: string;
  /** Endpoints from the winning source, ready and not ready. */
  readonly endpoints: readonly Endpoint[];
  readonly endpointSource: EndpointSource;
}

/** A concrete place to send a connection for one service port. */
export interface Backend {
  readonly ip: string;
  readonly port: number;
  readonly nodeName: string | null;
}

/** `"<namespace>/<name>"`, the key of a service in maps. */
export type ServiceKey = string;

/** Builds the map key of a service. */
export function serviceKey(namespace: string, name: string): ServiceKey {
  return `${namespace}/${name}`;
}

/** An immutable view of the registry; a new one is made on every change. */
export interface Snapshot {
  /** Increases by one on every change. */
  readonly version: number;
  readonly services: ReadonlyMap<ServiceKey, ServiceEntry>;
  readonly nodes: ReadonlyMap<string, NodeInfo>;
  /** Reverse index VIP → service key (PTR records, proxy). */
  readonly vips: ReadonlyMap<string, ServiceKey>;
}

/** An empty snapshot (version 0). */
export const EMPTY_SNAPSHOT: Snapshot = {
  version: 0,
  services: new Map(),
  nodes: new Map(),
  vips: new Map(),
};

/**
 * Whether `ep` is not ready but serving and terminating: a pod being deleted that still passes
 * its readiness probe. kube-proxy sends traffic to such endpoints only when a service (within
 * its traffic policy) has no ready endpoint (KEP-1669 "ProxyTerminatingEndpoints", GA in
 * Kubernetes 1.28): the state of a 1-replica Deployment during a rolling update.
 */
export function isServingTerminating(ep: Endpoint): boolean {
  return !ep.ready && ep.terminating === true && ep.serving === true;
}

/** Whether `ep` may carry traffic at all: ready, or serving and terminating (the fallback). */
export function isUsable(ep: Endpoint): boolean {
  return ep.ready || isServingTerminating(ep);
}

/**
 * Ready backends of one service port (or those `include` accepts): each endpoint with the
 * port the targetPort resolves to. A numeric targetPort is used as is; a named one, or an
 * endpoint port list, is matched by service port name, as Kubernetes does. Endpoints with no
 * matching port are skipped.
 */
export function backendsFor(
  entry: ServiceEntry,
  port: ServicePort,
  include: (ep: Endpoint) => boolean = isReady,
): Backend[] {
  const out: Backend[] = [];
  for (const ep of entry.endpoints) {
    if (!include(ep)) continue;
    const p = endpointPortFor(ep, port);
    if (p !== null) out.push({ ip: ep.ip, port: p, nodeName: ep.nodeName });
  }
  return out;
}

function isReady(ep: Endpoint): boolean {
  return ep.ready;
}

/** The port of `ep` that serves service port `port`, or null. */
export function endpointPortFor(ep: Endpoint, port: ServicePort): number | null {
  if (ep.ports.length > 0) {
    const byName = ep.ports.find((p) => p.name === port.name && p.protocol === port.protocol);
    if (byName) return byName.port;
    if (ep.ports.length === 1 && port.name === "" && ep.ports[0]!.protocol === port.protocol) {
      return ep.ports[0]!.port;
    }
    return null;
  }
  return port.targetPort.kind === "number" ? port.targetPort.port : null;
}
