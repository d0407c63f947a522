// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Warnings about accepted changes: things the agent ignores or cannot use although Kubernetes
 * would accept them, so refusing the change would be wrong but staying silent hides a mistake.
 * Notes (`level` `info` or `debug`) say the same of what the agent leaves alone by design: a
 * Service another proxy handles, an EndpointSlice that belongs to no Service.
 *
 * They are found by pure code (conversion, and the checks below on a rebuilt entry) and logged
 * by the registry at their level (`warn` by default), once per change that carries them and
 * only once that change is durable: a rejected or rolled-back change logs nothing, and neither
 * do snapshot consumers (the proxy's hot path stays silent).
 * @module
 */

import {
  type EndpointPort,
  endpointPortFor,
  type Service,
  type ServiceEntry,
  serviceKey,
} from "./model.ts";

/**
 * One line to log: a readable message and what it is about, for filtering (`service`,
 * `endpointslice` for a slice that belongs to no Service, `pod` for a pod whose IP can never be
 * an endpoint).
 */
export interface ChangeWarning {
  /** The log level; undefined is `warn`. */
  readonly level?: "info" | "debug";
  readonly msg: string;
  readonly fields:
    | { readonly service: string }
    | { readonly endpointslice: string }
    | { readonly pod: string };
}

/**
 * The `info` note of a change of a Service another proxy handles (`label` names the label that
 * says so, `convert_service.ts`), or null when edgemesh proxies it. One line per change of such a
 * Service (a `service` message, or a `servicelist` listing it): the service is in the registry
 * and in DNS but has no VIP and no listener, which `ctl apply` alone would not tell.
 */
export function otherProxyNote(service: Service, label: string): ChangeWarning | null {
  const proxy = service.proxyName;
  if (proxy === undefined) return null;
  const key = serviceKey(service.namespace, service.name);
  const dns = service.kind.type === "ClusterIP"
    ? "DNS answers its name without an address"
    : "DNS answers it as usual";
  return {
    level: "info",
    msg: `Leaving ${JSON.stringify(key)} to proxy ${
      JSON.stringify(proxy)
    } (label ${label}): no VIP, not proxied by edgemesh; ${dns}`,
    fields: { service: key },
  };
}

/**
 * The `debug` note of an EndpointSlice without the `kubernetes.io/service-name` label:
 * Kubernetes allows such slices (custom slices of other controllers), and kube-proxy and
 * CoreDNS, which find a Service's slices by that label, ignore them; so do we.
 */
export function unownedSliceNote(key: string): ChangeWarning {
  return {
    level: "debug",
    msg: `Ignoring EndpointSlice ${
      JSON.stringify(key)
    }: it has no label kubernetes.io/service-name, so it belongs to no Service`,
    fields: { endpointslice: key },
  };
}

/** A port as shown in warnings: its name (`""` when unnamed), `/UDP` or `/SCTP` when not TCP. */
function portLabel(p: { readonly name: string; readonly protocol: EndpointPort["protocol"] }) {
  const name = p.name === "" ? '""' : p.name;
  return p.protocol === "TCP" ? name : `${name}/${p.protocol}`;
}

/**
 * The warning for a service whose Endpoints or EndpointSlices have ready addresses none of
 * which serves any service port (their ports are named after something else, e.g. the
 * `targetPort`), or null. Such a service has no backends although its endpoints object lists
 * addresses (`ctl get` shows `<none>`, the proxy resets every client of a ClusterIP), and Kubernetes,
 * which names endpoint ports after the service ports, never produces it: hand-made objects do.
 * Not-ready addresses carry no traffic, so they alone are no mistake; pod-derived endpoints
 * are built from the service ports and always match.
 */
export function unmatchedPortsWarning(key: string, entry: ServiceEntry): ChangeWarning | null {
  const source = entry.endpointSource;
  if (source !== "endpoints" && source !== "endpointslice") return null;
  const svc = entry.service;
  if (svc.kind.type === "ExternalName" || svc.ports.length === 0) return null;
  const ready = entry.endpoints.filter((ep) => ep.ready);
  if (ready.length === 0) return null;
  if (ready.some((ep) => svc.ports.some((p) => endpointPortFor(ep, p) !== null))) return null;
  const epPorts = [...new Set(ready.flatMap((ep) => ep.ports.map(portLabel)))];
  const what = source === "endpoints" ? "Endpoints" : "EndpointSlices";
  return {
    msg: `${what} of ${JSON.stringify(key)} match none of its ports: service ports [${
      svc.ports.map(portLabel).join(", ")
    }], endpoint ports [${epPorts.join(", ")}]`,
    fields: { service: key },
  };
}
