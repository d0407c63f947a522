// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Which endpoints the connections of one service port go to, computed once per snapshot (not
 * per connection) as kube-proxy's `CategorizeEndpoints` (`pkg/proxy/topology.go`) does for
 * traffic from its own node:
 *
 * 1. `spec.internalTrafficPolicy: Local` keeps only the endpoints on this node (`nodeName`
 *    equal to ours; an endpoint of unknown node is not local). `Cluster` keeps all.
 * 2. Within those, the ready endpoints; if there are none, the serving and terminating ones
 *    (KEP-1669 "ProxyTerminatingEndpoints", GA in Kubernetes 1.28).
 * 3. If there are none either, the connection is rejected (reset).
 *
 * Pure: no sockets, no clock.
 * @module
 */
import {
  type Backend,
  backendsFor,
  isServingTerminating,
  isUsable,
  type ServiceEntry,
  type ServicePort,
} from "../registry/model.ts";

/**
 * The endpoints of one service port the proxy uses, and why: `ready` (the common case),
 * `terminating` (no ready endpoint within the policy: serving-terminating ones instead), or
 * none, with the reason a rejected connection is logged with.
 */
export type Candidates =
  | { readonly kind: "ready"; readonly backends: readonly Backend[] }
  | { readonly kind: "terminating"; readonly backends: readonly Backend[] }
  | {
    readonly kind: "none";
    /**
     * `no-endpoints`: no ready or serving-terminating endpoint serves the port anywhere;
     * `no-local-endpoints`: some do, but none on this node and the policy is `Local`.
     */
    readonly reason: "no-endpoints" | "no-local-endpoints";
    readonly backends: readonly Backend[];
  };

/** Why a service port has no candidates, as {@linkcode Candidates} tells it. */
export type NoCandidatesReason = Extract<Candidates, { kind: "none" }>["reason"];

const NONE: readonly Backend[] = Object.freeze([]);

/**
 * The endpoints connections to `port` of `entry` go to on node `nodeName`: ready ones, else
 * serving-terminating ones, within the service's `internalTrafficPolicy` (see the module
 * doc). Backends keep the registry's endpoint order (the round-robin order).
 */
export function candidatesFor(
  entry: ServiceEntry,
  port: ServicePort,
  nodeName: string,
): Candidates {
  const local = entry.service.internalTrafficPolicy === "Local";
  const onNode = local ? (b: Backend) => b.nodeName === nodeName : null;
  const pick = (include: Parameters<typeof backendsFor>[2]) => {
    const all = backendsFor(entry, port, include);
    return onNode ? all.filter(onNode) : all;
  };
  const ready = pick(undefined);
  if (ready.length > 0) return { kind: "ready", backends: ready };
  const terminating = pick(isServingTerminating);
  if (terminating.length > 0) return { kind: "terminating", backends: terminating };
  const elsewhere = local && backendsFor(entry, port, isUsable).length > 0;
  return {
    kind: "none",
    reason: elsewhere ? "no-local-endpoints" : "no-endpoints",
    backends: NONE,
  };
}
