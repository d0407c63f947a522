// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Conversion of a Kubernetes v1 Service into a {@linkcode ServiceRecord}: kind (ClusterIP,
 * Headless, ExternalName), ports, session affinity, traffic policy, the `lb-strategy` annotation
 * and the service-proxy-name label. Pure.
 * @module
 */

import {
  type InternalTrafficPolicy,
  LB_STRATEGY_ANNOTATION,
  type LbStrategy,
  type Service,
  type ServiceKind,
  type ServicePort,
  type SessionAffinity,
  type TargetPort,
} from "./model.ts";
import {
  at,
  describe,
  type Obj,
  optArray,
  optObj,
  optString,
  Problems,
  rootObj,
  stringMap,
} from "./problems.ts";
import { checkName } from "./names.ts";
import { type ChangeWarning } from "./warnings.ts";
import { meta, optBool, portNumber, protocol } from "./convert_fields.ts";

/**
 * Label that hands a service to another proxy: kube-proxy (and our proxy) skip such services,
 * DNS still answers them (`Service.proxyName`).
 */
export const SERVICE_PROXY_NAME_LABEL = "service.kubernetes.io/service-proxy-name";

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

/** The strategies the {@linkcode LB_STRATEGY_ANNOTATION} annotation may name (case as is). */
export const LB_STRATEGIES: readonly LbStrategy[] = ["RoundRobin", "Random"];

/** Converts one Service object; null only when the content is not an object. */
export function service(
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
