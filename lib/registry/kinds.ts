// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * `kind` and `apiVersion` of incoming objects against the type their route names.
 *
 * KubeEdge content often omits both (the route gives the type), so absent (or `""`, Go's
 * `omitempty`) is accepted. When present they must say what the route says: a Pod sent as
 * `default/service/x`, or an `apps/v1` object claiming `kind: Service`, is a sender bug and is
 * refused rather than read as something it is not. Shared with `ctl apply` (`lib/cli/manifest.ts`)
 * so the CLI accepts the same objects as the agent. Pure, no state.
 * @module
 */
import type { ResourceType } from "./model.ts";
import { at, describe, type Obj, optString, type Problems } from "./problems.ts";

/** The Kubernetes kinds the registry reads. */
export type ObjectKind = "Service" | "Endpoints" | "EndpointSlice" | "Pod" | "Node";

/**
 * The `apiVersion` each kind must carry when it carries one. Service, Endpoints, Pod and Node
 * are in the core group (`v1`). EndpointSlice is `discovery.k8s.io/v1` only: `v1beta1` (removed
 * in Kubernetes 1.25) kept the node in `topology` rather than `nodeName`, so reading it as v1
 * would silently lose where endpoints run.
 */
export const API_VERSIONS: Readonly<Record<ObjectKind, string>> = {
  Service: "v1",
  Endpoints: "v1",
  EndpointSlice: "discovery.k8s.io/v1",
  Pod: "v1",
  Node: "v1",
};

/**
 * The kind of the objects a route type carries: the object itself, or each item of the array
 * a `servicelist` (Services) or `podlist` (Pods) carries.
 */
export const ITEM_KINDS: Readonly<Record<ResourceType, ObjectKind>> = {
  service: "Service",
  servicelist: "Service",
  endpoints: "Endpoints",
  endpointslice: "EndpointSlice",
  pod: "Pod",
  podlist: "Pod",
  node: "Node",
};

/** Whether `kind` is one of {@linkcode ObjectKind} (own keys only: not `"constructor"`). */
export function isObjectKind(kind: string): kind is ObjectKind {
  return Object.hasOwn(API_VERSIONS, kind);
}

/**
 * The problem text for an `apiVersion` that `kind` cannot have, or null when it is right:
 * `"apps/v1" is not v1 (the apiVersion of Service)`.
 */
export function apiVersionProblem(kind: ObjectKind, apiVersion: string): string | null {
  const want = API_VERSIONS[kind];
  return apiVersion === want
    ? null
    : `${describe(apiVersion)} is not ${want} (the apiVersion of ${kind})`;
}

/**
 * Checks `kind`/`apiVersion` of `obj` (an object at `base`) sent on a route of `type`; every
 * problem goes to `p` (`kind "Pod" does not match the resource type service (expected Service)`).
 */
export function checkTypeMeta(obj: Obj, base: string, type: ResourceType, p: Problems): void {
  const want = ITEM_KINDS[type];
  const kind = optString(obj.kind, at(base, "kind"), p);
  if (kind !== null && kind !== want) {
    p.type(
      at(base, "kind"),
      `${describe(kind)} does not match the resource type ${type} (expected ${want})`,
    );
  }
  const apiVersion = optString(obj.apiVersion, at(base, "apiVersion"), p);
  if (apiVersion !== null) {
    const problem = apiVersionProblem(want, apiVersion);
    if (problem !== null) p.range(at(base, "apiVersion"), problem);
  }
}
