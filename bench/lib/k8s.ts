// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Kubernetes v1 Service and Endpoints objects for the benchmark services, and the KubeEdge
 * envelopes that carry them over the control socket. Pure.
 * @module
 */

/** One service port: `port` on the VIP, forwarded to `targetPort` on the endpoints. */
export interface BenchPort {
  readonly name: string;
  readonly port: number;
  readonly targetPort: number;
}

/** A service and where its endpoints live. */
export interface BenchService {
  readonly namespace: string;
  readonly name: string;
  readonly ports: readonly BenchPort[];
  readonly endpoints: readonly { readonly ip: string; readonly nodeName?: string }[];
}

/**
 * `count` services `burst/svc-<from+i>`, each port 80 → 8080 with one endpoint on 192.0.2.1 (a
 * documentation address, RFC 5737: never dialled here; loopback endpoints are refused, as
 * Kubernetes refuses them): the control-socket burst of the control micro-benchmarks.
 */
export function burstServices(from: number, count: number): BenchService[] {
  return Array.from({ length: count }, (_, i) => ({
    namespace: "burst",
    name: `svc-${from + i}`,
    ports: [{ name: "http", port: 80, targetPort: 8080 }],
    endpoints: [{ ip: "192.0.2.1" }],
  }));
}

/** The v1 Service object (`spec.ports[].targetPort`, TCP, ClusterIP type). */
export function serviceObject(s: BenchService): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: s.name, namespace: s.namespace },
    spec: {
      type: "ClusterIP",
      ports: s.ports.map((p) => ({
        name: p.name,
        protocol: "TCP",
        port: p.port,
        targetPort: p.targetPort,
      })),
    },
  };
}

/** The v1 Endpoints object (one subset, all addresses ready). */
export function endpointsObject(s: BenchService): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Endpoints",
    metadata: { name: s.name, namespace: s.namespace },
    subsets: [{
      addresses: s.endpoints.map((e) => e.nodeName === undefined ? { ip: e.ip } : { ...e }),
      ports: s.ports.map((p) => ({ name: p.name, port: p.targetPort, protocol: "TCP" })),
    }],
  };
}

/** A change to send on the control socket: `insert` of the service, then of its endpoints. */
export interface ChangeSpec {
  readonly operation: "insert" | "update" | "delete";
  /** `<ns>/<type>/<name>` as KubeEdge routes it. */
  readonly resource: string;
  readonly content: Record<string, unknown>;
}

/** The two changes that create `s` (service first, so the VIP exists before endpoints). */
export function serviceChanges(s: BenchService): ChangeSpec[] {
  return [
    {
      operation: "insert",
      resource: `${s.namespace}/service/${s.name}`,
      content: serviceObject(s),
    },
    {
      operation: "insert",
      resource: `${s.namespace}/endpoints/${s.name}`,
      content: endpointsObject(s),
    },
  ];
}

/** The DNS name of a service in `domain`. */
export function serviceFqdn(
  s: Pick<BenchService, "namespace" | "name">,
  domain = "cluster.local",
): string {
  return `${s.name}.${s.namespace}.svc.${domain}`;
}
