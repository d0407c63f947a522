// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Conversion of a Kubernetes v1 Pod into a {@linkcode PodRecord}, and the endpoints a service
 * derives from pods when it has no Endpoints or EndpointSlices ({@linkcode podEndpoints}). Pure.
 * @module
 */

import { type Endpoint, type EndpointPort, type Service } from "./model.ts";
import { specialIpKind, specialIpProblem } from "../netaddr/mod.ts";
import { at, describe, isObj, optArray, optObj, optString, Problems, rootObj } from "./problems.ts";
import { type ChangeWarning } from "./warnings.ts";
import { ipField, meta, optName, portNumber, protocol } from "./convert_fields.ts";
import { conditionsOf } from "./convert_endpoints.ts";

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

/**
 * Converts one Pod (of a `pod` route or an item of a `podlist`); null only when the content is
 * not an object. A `podIP` that can never be an endpoint is kept, with a warning.
 */
export function podOf(
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
    // rule (podOf warns when such a pod arrives).
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
