// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Conversion of Kubernetes v1 objects (as carried in KubeEdge messages) into the registry's
 * own records, with validation that reports every problem with its field path.
 *
 * Content often lacks `apiVersion`/`kind`: the message route gives the type (when present they
 * must agree with it, `kinds.ts`). Names follow Kubernetes' rules (`names.ts`). Only incoming
 * changes are validated here: state loaded from disk (`store.ts`) is not, so objects accepted
 * before a rule was added keep loading. Everything here is pure; the registry applies the result.
 *
 * This is the entry (`convertChange`); each kind has its converter (`convert_service.ts`,
 * `convert_endpoints.ts` for Endpoints and EndpointSlices, `convert_pod.ts`, `convert_node.ts`)
 * and they share the field readers of `convert_fields.ts`.
 * @module
 */

import {
  type ChangeOperation,
  type Endpoint,
  type NodeInfo,
  RESOURCE_TYPES,
  type ResourceType,
} from "./model.ts";
import { describe, Problems } from "./problems.ts";
import { checkName, NAME_RULES, NAMESPACE_RULE } from "./names.ts";
import { type ChangeWarning } from "./warnings.ts";
import { service, type ServiceRecord } from "./convert_service.ts";
import { endpointsOf, sliceOf, type SliceRecord } from "./convert_endpoints.ts";
import { podOf, type PodRecord } from "./convert_pod.ts";
import { nodeOf } from "./convert_node.ts";

export { type ChangeOperation, RESOURCE_TYPES, type ResourceType };
export {
  DEFAULT_AFFINITY_TIMEOUT_SECONDS,
  INTERNAL_TRAFFIC_POLICIES,
  LB_STRATEGIES,
  MAX_AFFINITY_TIMEOUT_SECONDS,
  SERVICE_PROXY_NAME_LABEL,
  type ServiceRecord,
} from "./convert_service.ts";
export { SERVICE_NAME_LABEL, type SliceRecord } from "./convert_endpoints.ts";
export { POD_PHASES, podEndpoints, type PodRecord, selectorMatches } from "./convert_pod.ts";
export { isIpAddress } from "./convert_fields.ts";

/**
 * One change, from a KubeEdge message whose `route.resource` is `<namespace>/<type>/<name>`
 * and whose `content` is the Kubernetes object (or array, for `servicelist`/`podlist`).
 */
export interface ResourceChange {
  readonly operation: ChangeOperation;
  readonly namespace: string;
  readonly type: ResourceType;
  readonly name: string;
  /** The object; ignored for `delete`. */
  readonly content: unknown;
}

/** What one change does once converted; `null` payloads mean "remove". */
export type ConvertedPayload =
  | {
    readonly type: "service";
    readonly namespace: string;
    readonly name: string;
    readonly record: ServiceRecord | null;
  }
  | { readonly type: "servicelist"; readonly records: readonly ServiceRecord[] }
  | {
    readonly type: "endpoints";
    readonly namespace: string;
    readonly name: string;
    readonly endpoints: readonly Endpoint[] | null;
  }
  | {
    readonly type: "endpointslice";
    readonly namespace: string;
    readonly name: string;
    readonly slice: SliceRecord | null;
  }
  | {
    readonly type: "pod";
    readonly namespace: string;
    readonly name: string;
    readonly pod: PodRecord | null;
  }
  | {
    readonly type: "podlist";
    readonly namespace: string;
    readonly name: string;
    readonly pods: readonly PodRecord[] | null;
  }
  | { readonly type: "node"; readonly name: string; readonly node: NodeInfo | null };

/**
 * A converted change with what it carries that the agent ignores (the registry logs these once
 * the change is durable; conversion stays pure).
 */
export type ConvertedChange = ConvertedPayload & { readonly warnings: readonly ChangeWarning[] };

/** `<namespace>/<type>/<name>`, the route resource of a change (used in error messages). */
export function resourceOf(change: Pick<ResourceChange, "namespace" | "type" | "name">): string {
  return `${change.namespace}/${change.type}/${change.name}`;
}

/**
 * Validates and converts one change. Every problem is reported, each with its field path,
 * in one error: `Cannot apply "default/service/x": spec.ports[0].port 70000 is out of range`.
 *
 * Names are checked against Kubernetes' rules (`names.ts`) on `insert`/`update`, where they
 * would create something. A `delete` only names what to remove (an absent one is a no-op), so
 * its names are not checked: objects stored before a rule existed can still be deleted.
 *
 * What Kubernetes accepts but the agent ignores (an unknown `lb-strategy` annotation value) is
 * no problem: it comes back in `warnings`, for the registry to log.
 * @throws {TypeError | RangeError} on invalid content (the first problem decides the class)
 */
export function convertChange(change: ResourceChange): ConvertedChange {
  const { namespace, name, type } = change;
  const resource = resourceOf(change);
  const p = new Problems();
  const warnings: ChangeWarning[] = [];
  if (!RESOURCE_TYPES.includes(type)) {
    throw new TypeError(
      `Cannot apply "${resource}": type ${JSON.stringify(type)} is not one of ${
        RESOURCE_TYPES.join(", ")
      }`,
    );
  }
  if (
    change.operation !== "insert" && change.operation !== "update" && change.operation !== "delete"
  ) {
    throw new TypeError(
      `Cannot apply "${resource}": operation ${
        describe(change.operation)
      } is not one of insert, update, delete`,
    );
  }
  if (namespace === "" || name === "") {
    throw new TypeError(`Cannot apply "${resource}": the resource needs a namespace and a name`);
  }
  const del = change.operation === "delete";
  const c = change.content;
  let out: ConvertedPayload;
  switch (type) {
    case "service":
      out = {
        type,
        namespace,
        name,
        record: del ? null : service(c, "", type, { namespace, name }, p, warnings),
      };
      break;
    case "servicelist": {
      if (del) {
        throw new TypeError(
          `Cannot apply "${resource}": operation delete is not supported for servicelist`,
        );
      }
      const records: ServiceRecord[] = [];
      const seen = new Map<string, number>();
      if (!Array.isArray(c)) p.type("content", `is not an array (got ${describe(c)})`);
      else {
        c.forEach((item, i) => {
          const r = service(item, `[${i}]`, type, { namespace: null, name: null }, p, warnings);
          if (!r) return;
          const key = `${r.service.namespace}/${r.service.name}`;
          if (seen.has(key)) {
            p.type(`[${i}]`, `duplicates service "${key}" (also [${seen.get(key)}])`);
          } else {
            seen.set(key, i);
            records.push(r);
          }
        });
      }
      out = { type, records };
      break;
    }
    case "endpoints":
      out = {
        type,
        namespace,
        name,
        endpoints: del ? null : endpointsOf(c, { namespace, name }, p),
      };
      break;
    case "endpointslice":
      out = {
        type,
        namespace,
        name,
        slice: del ? null : sliceOf(c, { namespace, name }, p, warnings),
      };
      break;
    case "pod":
      out = {
        type,
        namespace,
        name,
        pod: del ? null : podOf(c, "", type, { namespace, name }, p, warnings),
      };
      break;
    case "podlist": {
      let pods: PodRecord[] | null = null;
      if (!del) {
        pods = [];
        // `<ns>/podlist/<service>`: the namespace of its pods and the name of their service.
        checkName(namespace, NAMESPACE_RULE, "resource namespace", p);
        checkName(name, NAME_RULES.Service, "resource name", p);
        if (!Array.isArray(c)) p.type("content", `is not an array (got ${describe(c)})`);
        else {
          c.forEach((item, i) => {
            const r = podOf(item, `[${i}]`, type, { namespace, name: null }, p, warnings);
            if (r) pods!.push(r);
          });
        }
      }
      out = { type, namespace, name, pods };
      break;
    }
    case "node":
      out = { type, name, node: del ? null : nodeOf(c, { name }, p) };
      break;
  }
  p.throwIfAny(resource);
  return { ...out, warnings };
}
