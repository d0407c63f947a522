// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Field readers shared by the converters of each kind (`convert_service.ts`,
 * `convert_endpoints.ts`, `convert_pod.ts`, `convert_node.ts`): port numbers, protocols, optional
 * names and booleans, IP fields, and the identity of an object (`kind`, `apiVersion`, `metadata`)
 * checked against the route. Pure; problems go to a {@linkcode Problems}.
 * @module
 */

import { type Protocol, type ResourceType } from "./model.ts";
import { parseIp } from "../netaddr/mod.ts";
import { at, describe, type Obj, optObj, optString, Problems, stringMap } from "./problems.ts";
import { checkName, NAME_RULES, type NameRule, NAMESPACE_RULE } from "./names.ts";
import { checkTypeMeta, ITEM_KINDS } from "./kinds.ts";

/** A port number 1–65535; `null` when absent and not required. */
export function portNumber(
  v: unknown,
  path: string,
  p: Problems,
  required: boolean,
): number | null {
  if (v === undefined || v === null) {
    if (required) p.type(path, "is required");
    return null;
  }
  if (typeof v !== "number" || !Number.isInteger(v)) {
    p.type(path, `${describe(v)} is not an integer`);
    return null;
  }
  if (v < 1 || v > 65535) {
    p.range(path, `${v} is out of range`);
    return null;
  }
  return v;
}

const PROTOCOLS: readonly Protocol[] = ["TCP", "UDP", "SCTP"];

/** `protocol` of a port: TCP when absent (or null, ""), else one of TCP, UDP, SCTP. */
export function protocol(v: unknown, path: string, p: Problems): Protocol {
  if (v === undefined || v === null || v === "") return "TCP";
  if (typeof v === "string" && (PROTOCOLS as readonly string[]).includes(v)) return v as Protocol;
  p.range(path, `${describe(v)} is not one of TCP, UDP, SCTP`);
  return "TCP";
}

/** Whether `s` is an IPv4 or IPv6 address literal. */
export function isIpAddress(s: string): boolean {
  return parseIp(s) !== null;
}

/** An optional name field (`hostname`, a port name): null when absent, checked against `rule`. */
export function optName(v: unknown, rule: NameRule, path: string, p: Problems): string | null {
  const s = optString(v, path, p);
  if (s !== null) checkName(s, rule, path, p);
  return s;
}

/** An optional boolean field: null when absent (or null), a problem when not a boolean. */
export function optBool(v: unknown, path: string, p: Problems): boolean | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== "boolean") {
    p.type(path, `${describe(v)} is not a boolean`);
    return null;
  }
  return v;
}

/** A required IP address field (`ip`, `podIP`): null, with a problem, when absent or no IP. */
export function ipField(v: unknown, path: string, p: Problems): string | null {
  if (typeof v !== "string" || v === "") {
    p.type(
      path,
      v === undefined || v === null || v === "" ? "is required" : `${describe(v)} is not a string`,
    );
    return null;
  }
  if (!isIpAddress(v)) {
    p.range(path, `${JSON.stringify(v)} is not an IP address`);
    return null;
  }
  return v;
}

/**
 * Checks the identity of an object sent on a route of `type`: `kind`/`apiVersion` when present
 * ({@linkcode checkTypeMeta}), then `metadata` against the resource the route names, and the
 * names against Kubernetes' rules for the kind ({@linkcode NAME_RULES}). `want.namespace` null
 * means the route gives none (servicelist items, cluster-scoped nodes). A missing
 * `metadata.namespace` defaults to the resource's; `metadata.name` is required. A name is
 * checked once, where it comes from: `metadata.name`/`metadata.namespace` when the content has
 * them (they must equal the route's), else the resource's namespace (for a podlist, once for
 * the whole list).
 */
export function meta(
  obj: Obj,
  base: string,
  type: ResourceType,
  want: { namespace: string | null; name: string | null },
  p: Problems,
): {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
} {
  checkTypeMeta(obj, base, type, p);
  const kind = ITEM_KINDS[type];
  const mpath = at(base, "metadata");
  const m = optObj(obj.metadata, mpath, p);
  let name = optString(m.name, at(mpath, "name"), p);
  if (name === null) {
    if (m.name === undefined || m.name === null || m.name === "") {
      p.type(at(mpath, "name"), "is required");
    }
    name = want.name ?? "";
  } else if (want.name !== null && name !== want.name) {
    p.type(
      at(mpath, "name"),
      `${JSON.stringify(name)} does not match the resource name ${JSON.stringify(want.name)}`,
    );
  } else checkName(name, NAME_RULES[kind], at(mpath, "name"), p);
  let namespace = optString(m.namespace, at(mpath, "namespace"), p);
  if (kind === "Node") {
    // Cluster-scoped: the route's namespace token is ignored, and so is any metadata.namespace.
    namespace ??= "";
  } else if (want.namespace !== null) {
    // A podlist's namespace is checked once for the list (convertChange), not per pod.
    const check = type !== "podlist";
    if (namespace === null) {
      namespace = want.namespace;
      if (check) checkName(namespace, NAMESPACE_RULE, "resource namespace", p);
    } else if (namespace !== want.namespace) {
      p.type(
        at(mpath, "namespace"),
        `${JSON.stringify(namespace)} does not match the resource namespace ${
          JSON.stringify(want.namespace)
        }`,
      );
    } else if (check) checkName(namespace, NAMESPACE_RULE, at(mpath, "namespace"), p);
  } else if (namespace === null) {
    namespace = "";
  } else checkName(namespace, NAMESPACE_RULE, at(mpath, "namespace"), p);
  return {
    namespace,
    name,
    labels: stringMap(m.labels, at(mpath, "labels"), p),
    annotations: stringMap(m.annotations, at(mpath, "annotations"), p),
  };
}
