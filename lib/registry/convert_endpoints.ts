// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Conversion of Kubernetes v1 Endpoints and discovery.k8s.io/v1 EndpointSlices into endpoints
 * (`Endpoint`, {@linkcode SliceRecord}), refusing addresses Kubernetes refuses. Pure.
 * @module
 */

import { type Endpoint, type EndpointPort } from "./model.ts";
import { parseIpv4, specialIpProblem } from "../netaddr/mod.ts";
import { at, describe, optArray, optObj, optString, Problems, rootObj } from "./problems.ts";
import { checkName, NAME_RULES } from "./names.ts";
import { type ChangeWarning, unownedSliceNote } from "./warnings.ts";
import { ipField, meta, optBool, optName, portNumber, protocol } from "./convert_fields.ts";

/** EndpointSlice label naming the owning service (`discovery.k8s.io/v1`). */
export const SERVICE_NAME_LABEL = "kubernetes.io/service-name";

/** One EndpointSlice, reduced to its owner and endpoints. */
export interface SliceRecord {
  readonly namespace: string;
  readonly name: string;
  /** Owning service name (label `kubernetes.io/service-name`). */
  readonly service: string;
  readonly endpoints: readonly Endpoint[];
}

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

/**
 * The endpoints of an Endpoints object: each address of each subset with the subset's ports,
 * ready (`addresses`) or not (`notReadyAddresses`).
 */
export function endpointsOf(
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
export function conditionsOf(
  ready: boolean,
  serving: boolean,
  terminating: boolean,
): EndpointConditions {
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
export function sliceOf(
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
