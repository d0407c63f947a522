// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Conversion of Kubernetes v1 objects (as carried in KubeEdge messages) into the registry's
 * own records, with validation that reports every problem with its field path.
 *
 * Content often lacks `apiVersion`/`kind`: the message route gives the type (when present they
 * must agree with it, `kinds.ts`). Names follow Kubernetes' rules (`names.ts`). Only incoming
 * changes are validated here: state loaded from disk (`store.ts`) is not, so objects accepted
 * before a rule was added keep loading. Everything here is pure; the registry applies the result.
 * @module
 */

import {
  type Endpoint,
  type EndpointPort,
  type InternalTrafficPolicy,
  LB_STRATEGY_ANNOTATION,
  type LbStrategy,
  type NodeInfo,
  type Protocol,
  type Service,
  type ServiceKind,
  type ServicePort,
  type SessionAffinity,
  type TargetPort,
} from "./model.ts";
import { type ChangeOperation, RESOURCE_TYPES, type ResourceType } from "./model.ts";
import { isDnsName, parseIp, parseIpv4, specialIpKind, specialIpProblem } from "../netaddr/mod.ts";
import {
  at,
  describe,
  isObj,
  type Obj,
  optArray,
  optObj,
  optString,
  Problems,
  rootObj,
  stringMap,
} from "./problems.ts";
import { checkName, NAME_RULES, type NameRule, NAMESPACE_RULE } from "./names.ts";
import { checkTypeMeta, ITEM_KINDS } from "./kinds.ts";
import { type ChangeWarning, unownedSliceNote } from "./warnings.ts";

export { type ChangeOperation, RESOURCE_TYPES, type ResourceType };

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

/**
 * Label that hands a service to another proxy: kube-proxy (and our proxy) skip such services,
 * DNS still answers them (`Service.proxyName`).
 */
export const SERVICE_PROXY_NAME_LABEL = "service.kubernetes.io/service-proxy-name";
/** EndpointSlice label naming the owning service (`discovery.k8s.io/v1`). */
export const SERVICE_NAME_LABEL = "kubernetes.io/service-name";
/** `sessionAffinityConfig.clientIP.timeoutSeconds` default (3 hours), as Kubernetes. */
export const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10800;
/** Largest `timeoutSeconds` Kubernetes accepts (1 day). */
export const MAX_AFFINITY_TIMEOUT_SECONDS = 86400;

/** A service plus what the registry needs beyond the model (its pod selector). */
export interface ServiceRecord {
  readonly service: Service;
  /** `spec.selector`, or null when the service selects no pods. */
  readonly selector: Readonly<Record<string, string>> | null;
}

/** One EndpointSlice, reduced to its owner and endpoints. */
export interface SliceRecord {
  readonly namespace: string;
  readonly name: string;
  /** Owning service name (label `kubernetes.io/service-name`). */
  readonly service: string;
  readonly endpoints: readonly Endpoint[];
}

/** The parts of a Pod used to derive endpoints when a service has no Endpoints/slices. */
export interface PodRecord {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** `status.podIP`, or null before the pod has one. */
  readonly ip: string | null;
  readonly nodeName: string | null;
  readonly hostname: string | null;
  /** `status.phase === "Running"`. */
  readonly running: boolean;
  /** The `Ready` condition is `True`. */
  readonly ready: boolean;
  /**
   * `metadata.deletionTimestamp` is set: the pod is being deleted (KEP-1672's "terminating").
   * Recorded only when true; undefined (and every pod stored before it was recorded) is false.
   */
  readonly terminating?: boolean;
  /** Every container port (`spec.containers[].ports[]`); `name` "" when unnamed. */
  readonly ports: readonly EndpointPort[];
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

/** The strategies the {@linkcode LB_STRATEGY_ANNOTATION} annotation may name (case as is). */
export const LB_STRATEGIES: readonly LbStrategy[] = ["RoundRobin", "Random"];

/**
 * Kubernetes `PodPhase` values (`core/v1`); anything else is refused rather than read as
 * "not running".
 */
export const POD_PHASES: readonly string[] = [
  "Pending",
  "Running",
  "Succeeded",
  "Failed",
  "Unknown",
];

/** Node address types (`NodeAddressType`) whose address is an IP, and those whose is a DNS name. */
const IP_ADDRESS_TYPES: readonly string[] = ["InternalIP", "ExternalIP"];
const DNS_ADDRESS_TYPES: readonly string[] = ["Hostname", "InternalDNS", "ExternalDNS"];

/** A port number 1–65535; `null` when absent and not required. */
function portNumber(v: unknown, path: string, p: Problems, required: boolean): number | null {
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

function protocol(v: unknown, path: string, p: Problems): Protocol {
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
function optName(v: unknown, rule: NameRule, path: string, p: Problems): string | null {
  const s = optString(v, path, p);
  if (s !== null) checkName(s, rule, path, p);
  return s;
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
function meta(
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

// ---------------------------------------------------------------------------------------------
// Service

/** Converts one Service object; null only when the content is not an object. */
function service(
  content: unknown,
  base: string,
  type: "service" | "servicelist",
  want: { namespace: string | null; name: string | null },
  p: Problems,
  warnings: ChangeWarning[],
): ServiceRecord | null {
  const obj = rootObj(content, base, p);
  if (!obj) return null;
  const md = meta(obj, base, type, want, p);
  if (want.namespace === null && md.namespace === "") {
    p.type(at(at(base, "metadata"), "namespace"), "is required");
  }
  const spath = at(base, "spec");
  const spec = optObj(obj.spec, spath, p);

  let kind: ServiceKind = { type: "ClusterIP" };
  const typePath = at(spath, "type");
  const specType = spec.type ?? "ClusterIP";
  if (specType === "ExternalName") {
    const ext = optString(spec.externalName, at(spath, "externalName"), p);
    if (ext === null) {
      if (typeof spec.externalName !== "string" || spec.externalName === "") {
        p.type(at(spath, "externalName"), "is required for type ExternalName");
      }
    } else if (!/^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?\.?$/.test(ext) || ext.length > 253) {
      p.range(at(spath, "externalName"), `${JSON.stringify(ext)} is not a DNS name`);
    }
    kind = { type: "ExternalName", externalName: ext ?? "" };
  } else if (specType === "ClusterIP" || specType === "NodePort" || specType === "LoadBalancer") {
    if (spec.clusterIP === "None") kind = { type: "Headless" };
  } else {
    p.range(
      typePath,
      `${describe(specType)} is not one of ClusterIP, NodePort, LoadBalancer, ExternalName`,
    );
  }

  const ports: ServicePort[] = [];
  const rawPorts = optArray(spec.ports, at(spath, "ports"), p);
  const names = new Map<string, number>();
  const portProtos = new Map<string, number>();
  rawPorts.forEach((raw, i) => {
    const ppath = at(at(spath, "ports"), i);
    const po = rootObj(raw, ppath, p);
    if (!po) return;
    const name = optString(po.name, at(ppath, "name"), p) ?? "";
    if (name === "") {
      if (rawPorts.length > 1) {
        p.type(at(ppath, "name"), "is required when a service has several ports");
      }
    } else if (checkName(name, "DNS-1123 label", at(ppath, "name"), p)) {
      const first = names.get(name);
      if (first === undefined) names.set(name, i);
      else {
        p.range(
          at(ppath, "name"),
          `${JSON.stringify(name)} is duplicated (also ${at(at(spath, "ports"), first)})`,
        );
      }
    }
    const port = portNumber(po.port, at(ppath, "port"), p, true);
    const proto = protocol(po.protocol, at(ppath, "protocol"), p);
    let targetPort: TargetPort | null = null;
    const tp = po.targetPort;
    const tpath = at(ppath, "targetPort");
    if (tp === undefined || tp === null || tp === "") {
      if (port !== null) targetPort = { kind: "number", port };
    } else if (typeof tp === "string") {
      if (checkName(tp, "IANA_SVC_NAME", tpath, p)) targetPort = { kind: "name", name: tp };
    } else {
      const n = portNumber(tp, tpath, p, true);
      if (n !== null) targetPort = { kind: "number", port: n };
    }
    if (port !== null) {
      const pp = `${port}/${proto}`;
      if (portProtos.has(pp)) {
        p.range(
          ppath,
          `duplicates port ${pp} (also ${at(at(spath, "ports"), portProtos.get(pp)!)})`,
        );
      } else portProtos.set(pp, i);
    }
    if (port !== null && targetPort !== null) {
      ports.push({ name, protocol: proto, port, targetPort });
    }
  });

  let sessionAffinity: SessionAffinity = { type: "None" };
  const sa = spec.sessionAffinity;
  if (sa === "ClientIP") {
    const cfgPath = at(at(spath, "sessionAffinityConfig"), "clientIP");
    const cfg = optObj(
      optObj(spec.sessionAffinityConfig, at(spath, "sessionAffinityConfig"), p).clientIP,
      cfgPath,
      p,
    );
    const tpath = at(cfgPath, "timeoutSeconds");
    let timeout = DEFAULT_AFFINITY_TIMEOUT_SECONDS;
    const t = cfg.timeoutSeconds;
    if (t !== undefined && t !== null) {
      if (typeof t !== "number" || !Number.isInteger(t)) {
        p.type(tpath, `${describe(t)} is not an integer`);
      } else if (t < 1 || t > MAX_AFFINITY_TIMEOUT_SECONDS) p.range(tpath, `${t} is out of range`);
      else timeout = t;
    }
    sessionAffinity = { type: "ClientIP", timeoutSeconds: timeout };
  } else if (sa !== undefined && sa !== null && sa !== "" && sa !== "None") {
    p.range(at(spath, "sessionAffinity"), `${describe(sa)} is not one of None, ClientIP`);
  }

  const internalTrafficPolicy = trafficPolicy(spec, spath, p);
  const publishNotReadyAddresses = optBool(
    spec.publishNotReadyAddresses,
    at(spath, "publishNotReadyAddresses"),
    p,
  );

  const lb = md.annotations[LB_STRATEGY_ANNOTATION];
  const lbStrategy = LB_STRATEGIES.find((s) => s === lb);

  const sel = stringMap(spec.selector, at(spath, "selector"), p);
  const proxyName = md.labels[SERVICE_PROXY_NAME_LABEL];
  // Another proxy's service is not balanced by us: its annotation is nothing we ignore.
  if (lb !== undefined && lbStrategy === undefined && proxyName === undefined) {
    // The API server accepts any annotation value and kube-proxy ignores what it does not
    // understand: refusing the Service would leave it without a VIP on every edge node.
    const key = `${md.namespace}/${md.name}`;
    warnings.push({
      msg: `Ignoring annotation ${LB_STRATEGY_ANNOTATION} of ${JSON.stringify(key)}: ${
        JSON.stringify(lb)
      } is not one of ${LB_STRATEGIES.join(", ")}; the configured lbStrategy applies`,
      fields: { service: key },
    });
  }
  const svc: Service = {
    namespace: md.namespace,
    name: md.name,
    kind,
    ports,
    sessionAffinity,
    ...(lbStrategy ? { lbStrategy } : {}),
    ...(proxyName === undefined ? {} : { proxyName }),
    ...(internalTrafficPolicy === "Local" ? { internalTrafficPolicy } : {}),
    ...(publishNotReadyAddresses ? { publishNotReadyAddresses } : {}),
  };
  return { service: svc, selector: Object.keys(sel).length > 0 ? sel : null };
}

/** The `internalTrafficPolicy` values Kubernetes accepts (`core/v1`). */
export const INTERNAL_TRAFFIC_POLICIES: readonly InternalTrafficPolicy[] = ["Cluster", "Local"];

/**
 * `spec.internalTrafficPolicy`: absent (or null, "") is `Cluster`, the API server's default;
 * any other value than `Cluster` or `Local` is refused, as the API server refuses it.
 */
function trafficPolicy(spec: Obj, spath: string, p: Problems): InternalTrafficPolicy {
  const v = spec.internalTrafficPolicy;
  if (v === undefined || v === null || v === "") return "Cluster";
  const policy = INTERNAL_TRAFFIC_POLICIES.find((x) => x === v);
  if (policy === undefined) {
    p.range(
      at(spath, "internalTrafficPolicy"),
      `${describe(v)} is not one of ${INTERNAL_TRAFFIC_POLICIES.join(", ")}`,
    );
    return "Cluster";
  }
  return policy;
}

/** An optional boolean field: null when absent (or null), a problem when not a boolean. */
function optBool(v: unknown, path: string, p: Problems): boolean | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== "boolean") {
    p.type(path, `${describe(v)} is not a boolean`);
    return null;
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// Endpoints, EndpointSlice

function endpointPorts(
  raw: unknown,
  path: string,
  p: Problems,
  skipUnset: boolean,
): EndpointPort[] {
  const out: EndpointPort[] = [];
  optArray(raw, path, p).forEach((r, i) => {
    const ppath = at(path, i);
    const o = rootObj(r, ppath, p);
    if (!o) return;
    if (skipUnset && (o.port === undefined || o.port === null)) return;
    const port = portNumber(o.port, at(ppath, "port"), p, true);
    const name = optName(o.name, "DNS-1123 label", at(ppath, "name"), p) ?? "";
    const proto = protocol(o.protocol, at(ppath, "protocol"), p);
    if (port !== null) out.push({ name, port, protocol: proto });
  });
  return out;
}

function ipField(v: unknown, path: string, p: Problems): string | null {
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
 * Kubernetes refuses these addresses in Endpoints and EndpointSlices (`ValidateEndpointIP`):
 * unspecified, loopback, link-local, link-local multicast. Served as endpoints they would make
 * a node connect to itself — a peer's stream for `127.0.0.1:7777` would reach a listener bound
 * to the node's loopback only, `0.0.0.0:9560` the agent's own metrics.
 */
const SPECIAL_IP_NOTE = "; Kubernetes rejects it too";

/** Adds a problem when `ip` (an address) may not be an endpoint; returns whether it may. */
function checkEndpointIp(ip: string, path: string, p: Problems): boolean {
  const problem = specialIpProblem(ip);
  if (problem !== null) p.range(path, problem + SPECIAL_IP_NOTE);
  return problem === null;
}

function targetRefName(v: unknown, path: string, p: Problems): string | null {
  return optString(optObj(v, path, p).name, at(path, "name"), p);
}

function endpointsOf(
  content: unknown,
  want: { namespace: string; name: string },
  p: Problems,
): Endpoint[] {
  const obj = rootObj(content, "", p);
  if (!obj) return [];
  meta(obj, "", "endpoints", want, p);
  const out: Endpoint[] = [];
  optArray(obj.subsets, "subsets", p).forEach((rs, i) => {
    const spath = at("subsets", i);
    const s = rootObj(rs, spath, p);
    if (!s) return;
    const ports = endpointPorts(s.ports, at(spath, "ports"), p, false);
    for (const [field, ready] of [["addresses", true], ["notReadyAddresses", false]] as const) {
      optArray(s[field], at(spath, field), p).forEach((ra, j) => {
        const apath = at(at(spath, field), j);
        const a = rootObj(ra, apath, p);
        if (!a) return;
        let ip = ipField(a.ip, at(apath, "ip"), p);
        if (ip !== null && !checkEndpointIp(ip, at(apath, "ip"), p)) ip = null;
        const ep: Endpoint = {
          ip: ip ?? "",
          ready,
          nodeName: optString(a.nodeName, at(apath, "nodeName"), p),
          hostname: optName(a.hostname, "DNS-1123 label", at(apath, "hostname"), p),
          podName: targetRefName(a.targetRef, at(apath, "targetRef"), p),
          ports,
        };
        if (ip !== null) out.push(ep);
      });
    }
  });
  return out;
}

/** The conditions of an endpoint as the model records them (`terminating`/`serving` when set). */
type EndpointConditions = Pick<Endpoint, "ready" | "terminating" | "serving">;

/**
 * The conditions of a terminating endpoint: not ready (Kubernetes never reports a terminating
 * endpoint ready unless `publishNotReadyAddresses` asks for it), with whether it still serves.
 */
function conditionsOf(ready: boolean, serving: boolean, terminating: boolean): EndpointConditions {
  return terminating ? { ready, terminating, serving } : { ready };
}

/**
 * discovery.k8s.io/v1 `EndpointConditions` with the API's defaults for nil, as kube-proxy
 * reads them: `ready` nil is true ("nil should be interpreted as ready"), `serving` nil is
 * true, `terminating` nil is false. `terminating` and `serving` are recorded only for a
 * terminating endpoint, the only place they matter (KEP-1669's fallback).
 */
function sliceConditions(v: unknown, path: string, p: Problems): EndpointConditions {
  const cond = optObj(v, path, p);
  const ready = optBool(cond.ready, at(path, "ready"), p) ?? true;
  const serving = optBool(cond.serving, at(path, "serving"), p) ?? true;
  const terminating = optBool(cond.terminating, at(path, "terminating"), p) ?? false;
  return conditionsOf(ready, serving, terminating);
}

/**
 * EndpointSlice; null when its `addressType` is not IPv4 (ignored: VIPs are IPv4 only) or it
 * has no `kubernetes.io/service-name` label (a custom slice of another controller: it belongs
 * to no Service, and kube-proxy and CoreDNS ignore it; a note says so at `debug`).
 */
function sliceOf(
  content: unknown,
  want: { namespace: string; name: string },
  p: Problems,
  warnings: ChangeWarning[],
): SliceRecord | null {
  const obj = rootObj(content, "", p);
  if (!obj) return null;
  const md = meta(obj, "", "endpointslice", want, p);
  const svcName = md.labels[SERVICE_NAME_LABEL];
  const labelPath = at(at("metadata", "labels"), SERVICE_NAME_LABEL);
  const owned = svcName !== undefined && svcName !== "";
  if (owned) checkName(svcName, NAME_RULES.Service, labelPath, p);
  else warnings.push(unownedSliceNote(`${md.namespace}/${md.name}`));
  const at0 = obj.addressType ?? "IPv4";
  if (at0 !== "IPv4" && at0 !== "IPv6" && at0 !== "FQDN") {
    p.range("addressType", `${describe(at0)} is not one of IPv4, IPv6, FQDN`);
  }
  const ports = endpointPorts(obj.ports, "ports", p, true);
  const endpoints: Endpoint[] = [];
  optArray(obj.endpoints, "endpoints", p).forEach((re, i) => {
    const epath = at("endpoints", i);
    const e = rootObj(re, epath, p);
    if (!e) return;
    const conditions = sliceConditions(e.conditions, at(epath, "conditions"), p);
    const nodeName = optString(e.nodeName, at(epath, "nodeName"), p);
    const hostname = optName(e.hostname, "DNS-1123 label", at(epath, "hostname"), p);
    const podName = targetRefName(e.targetRef, at(epath, "targetRef"), p);
    const addrs = optArray(e.addresses, at(epath, "addresses"), p);
    if (addrs.length === 0) p.type(at(epath, "addresses"), "is empty");
    addrs.forEach((a, j) => {
      if (at0 !== "IPv4") return;
      const apath = at(at(epath, "addresses"), j);
      if (typeof a !== "string" || parseIpv4(a) === null) {
        p.range(apath, `${describe(a)} is not an IPv4 address`);
        return;
      }
      if (!checkEndpointIp(a, apath, p)) return;
      endpoints.push({ ip: a, ...conditions, nodeName, hostname, podName, ports });
    });
  });
  if (at0 !== "IPv4" || !owned) return null;
  return { namespace: md.namespace, name: md.name, service: svcName, endpoints };
}

// ---------------------------------------------------------------------------------------------
// Pod, Node

function podOf(
  content: unknown,
  base: string,
  type: "pod" | "podlist",
  want: { namespace: string; name: string | null },
  p: Problems,
  warnings: ChangeWarning[],
): PodRecord | null {
  const obj = rootObj(content, base, p);
  if (!obj) return null;
  const md = meta(obj, base, type, want, p);
  const spath = at(base, "spec");
  const spec = optObj(obj.spec, spath, p);
  const stpath = at(base, "status");
  const status = optObj(obj.status, stpath, p);
  const ports: EndpointPort[] = [];
  optArray(spec.containers, at(spath, "containers"), p).forEach((rc, i) => {
    const cpath = at(at(spath, "containers"), i);
    const c = rootObj(rc, cpath, p);
    if (!c) return;
    optArray(c.ports, at(cpath, "ports"), p).forEach((rp, j) => {
      const ppath = at(at(cpath, "ports"), j);
      const po = rootObj(rp, ppath, p);
      if (!po) return;
      const port = portNumber(po.containerPort, at(ppath, "containerPort"), p, true);
      const name = optName(po.name, "IANA_SVC_NAME", at(ppath, "name"), p) ?? "";
      const proto = protocol(po.protocol, at(ppath, "protocol"), p);
      if (port !== null) ports.push({ name, port, protocol: proto });
    });
  });
  let ip: string | null = null;
  if (status.podIP !== undefined && status.podIP !== null && status.podIP !== "") {
    ip = ipField(status.podIP, at(stpath, "podIP"), p);
    // Kubernetes accepts such a Pod (its IP is not validated this way), but never publishes
    // it as an endpoint: kept, never used as one (podEndpoints), and said so.
    const problem = ip === null ? null : specialIpProblem(ip);
    if (problem !== null) {
      const key = `${md.namespace}/${md.name}`;
      warnings.push({
        msg: `Not using pod ${JSON.stringify(key)} as an endpoint: ${
          at(stpath, "podIP")
        } ${problem} (Kubernetes would not publish it as an endpoint either)`,
        fields: { pod: key },
      });
    }
  }
  const phase = optString(status.phase, at(stpath, "phase"), p);
  if (phase !== null && !POD_PHASES.includes(phase)) {
    p.range(at(stpath, "phase"), `${describe(phase)} is not one of ${POD_PHASES.join(", ")}`);
  }
  let ready = false;
  optArray(status.conditions, at(stpath, "conditions"), p).forEach((c) => {
    if (isObj(c) && c.type === "Ready" && c.status === "True") ready = true;
  });
  // The API server sets `metadata.deletionTimestamp` when a pod's deletion starts (RFC 3339
  // text); only whether it is set matters here. (A metadata that is no object: meta() said so.)
  const deletion = optString(
    isObj(obj.metadata) ? obj.metadata.deletionTimestamp : undefined,
    at(at(base, "metadata"), "deletionTimestamp"),
    p,
  );
  return {
    namespace: md.namespace,
    name: md.name,
    labels: md.labels,
    ip,
    nodeName: optString(spec.nodeName, at(spath, "nodeName"), p),
    hostname: optName(spec.hostname, "DNS-1123 label", at(spath, "hostname"), p),
    running: phase === "Running",
    ready,
    ...(deletion !== null ? { terminating: true } : {}),
    ports,
  };
}

function nodeOf(content: unknown, want: { name: string }, p: Problems): NodeInfo | null {
  const obj = rootObj(content, "", p);
  if (!obj) return null;
  const md = meta(obj, "", "node", { namespace: null, name: want.name }, p);
  const addresses: { type: string; address: string }[] = [];
  const status = optObj(obj.status, "status", p);
  optArray(status.addresses, at("status", "addresses"), p).forEach((ra, i) => {
    const apath = at(at("status", "addresses"), i);
    const a = rootObj(ra, apath, p);
    if (!a) return;
    const type = optString(a.type, at(apath, "type"), p);
    const address = optString(a.address, at(apath, "address"), p);
    if (type === null) p.type(at(apath, "type"), "is required");
    if (address === null) p.type(at(apath, "address"), "is required");
    if (type === null || address === null) return;
    if (IP_ADDRESS_TYPES.includes(type) && !isIpAddress(address)) {
      p.range(at(apath, "address"), `${describe(address)} is not an IP address (type ${type})`);
    } else if (DNS_ADDRESS_TYPES.includes(type) && !isDnsName(address)) {
      p.range(at(apath, "address"), `${describe(address)} is not a DNS name (type ${type})`);
    } else addresses.push({ type, address });
  });
  return { name: md.name, addresses };
}

// ---------------------------------------------------------------------------------------------
// Public entry points

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

/**
 * Endpoints of `service` derived from pods, as the original edgemesh read pods: pods that are
 * `Running` and have a `podIP`. Their conditions are those the EndpointSlice controller gives
 * (`podToEndpoint` in Kubernetes' `endpointslice` utilities): serving = the `Ready` condition,
 * terminating = `deletionTimestamp` set, ready = serving and not terminating, or always with
 * `publishNotReadyAddresses`. Each service port maps to its numeric targetPort, or for a named
 * targetPort to the container port of that name and protocol; a pod lacking the named port
 * serves nothing on that service port, and a pod that serves no service port at all is left
 * out.
 */
export function podEndpoints(service: Service, pods: Iterable<PodRecord>): Endpoint[] {
  const out: Endpoint[] = [];
  for (const pod of pods) {
    // A special address (loopback, …) is never an endpoint, also for pods stored before the
    // rule (convert.ts warns when such a pod arrives).
    if (!pod.running || pod.ip === null || specialIpKind(pod.ip) !== null) continue;
    const ports: EndpointPort[] = [];
    for (const sp of service.ports) {
      const tp = sp.targetPort;
      if (tp.kind === "number") ports.push({ name: sp.name, port: tp.port, protocol: sp.protocol });
      else {
        const cp = pod.ports.find((c) => c.name === tp.name && c.protocol === sp.protocol);
        if (cp) ports.push({ name: sp.name, port: cp.port, protocol: sp.protocol });
      }
    }
    if (service.ports.length > 0 && ports.length === 0) continue;
    const terminating = pod.terminating === true;
    const ready = service.publishNotReadyAddresses === true || (pod.ready && !terminating);
    out.push({
      ip: pod.ip,
      ...conditionsOf(ready, pod.ready, terminating),
      nodeName: pod.nodeName,
      hostname: pod.hostname,
      podName: pod.name,
      ports,
    });
  }
  return out;
}

/** Whether a service `selector` (`spec.selector`, all pairs must match) selects `labels`. */
export function selectorMatches(
  selector: Readonly<Record<string, string>>,
  labels: Readonly<Record<string, string>>,
): boolean {
  for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return false;
  return true;
}
