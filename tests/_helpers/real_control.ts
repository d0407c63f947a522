// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * A real {@linkcode Registry} behind a real {@linkcode ControlServer} on a Unix socket under
 * `/tmp/cdl-*`, and one object of every deletable kind, for the tests of what a delete finds
 * (the server's reply and `ctl delete`'s output) without a whole agent.
 * @module
 */
import { ControlServer } from "../../lib/control/mod.ts";
import { nullLogger } from "../../lib/log/mod.ts";
import { Registry, type ResourceChange, type ResourceType } from "../../lib/registry/mod.ts";

/** A running registry and control server. */
export interface RealControl {
  /** The control socket. */
  readonly path: string;
  readonly registry: Registry;
  /** The temporary directory: the registry's state is in `<dir>/state`. */
  readonly dir: string;
}

/**
 * Runs `fn` against a fresh registry (state in `<dir>/state`) and a control server on
 * `<dir>/run/edgemesh.sock`, `<dir>` a new `/tmp/cdl-*`; stops both and removes the directory
 * however `fn` ends.
 */
export async function withRealControl(fn: (c: RealControl) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "cdl-" });
  try {
    const registry = await Registry.open({
      stateDir: `${dir}/state`,
      subnet: "9.251.0.0/16",
      log: nullLogger,
    });
    try {
      const server = await ControlServer.listen({
        path: `${dir}/run/edgemesh.sock`,
        target: registry,
        status: () => ({ node: "n", counts: { services: 0, endpoints: 0, vips: 0, nodes: 0 } }),
        log: nullLogger,
      });
      try {
        await fn({ path: server.path, registry, dir });
      } finally {
        await server.close();
      }
    } finally {
      await registry.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** One object a delete can name: its route and the content that creates it. */
export interface KindObject {
  readonly type: ResourceType;
  readonly namespace: string;
  readonly name: string;
  readonly content: unknown;
}

const POD = {
  metadata: { name: "web-1", namespace: "default", labels: { app: "web" } },
  spec: { nodeName: "edge-1", containers: [{ name: "app", ports: [{ containerPort: 8080 }] }] },
  status: {
    phase: "Running",
    podIP: "10.244.1.5",
    conditions: [{ type: "Ready", status: "True" }],
  },
};

/** One valid object of every type a delete message may carry (all but `servicelist`). */
export const OBJECTS: Readonly<Record<Exclude<ResourceType, "servicelist">, KindObject>> = {
  service: {
    type: "service",
    namespace: "default",
    name: "web",
    content: {
      metadata: { name: "web", namespace: "default" },
      spec: { selector: { app: "web" }, ports: [{ port: 80, targetPort: 8080 }] },
    },
  },
  endpoints: {
    type: "endpoints",
    namespace: "default",
    name: "web",
    content: {
      metadata: { name: "web", namespace: "default" },
      subsets: [{ addresses: [{ ip: "10.244.1.5" }], ports: [{ port: 8080 }] }],
    },
  },
  endpointslice: {
    type: "endpointslice",
    namespace: "default",
    name: "web-x7k2p",
    content: {
      metadata: {
        name: "web-x7k2p",
        namespace: "default",
        labels: { "kubernetes.io/service-name": "web" },
      },
      addressType: "IPv4",
      endpoints: [{ addresses: ["10.244.1.5"], conditions: { ready: true } }],
      ports: [{ port: 8080 }],
    },
  },
  pod: { type: "pod", namespace: "default", name: "web-1", content: POD },
  podlist: { type: "podlist", namespace: "default", name: "web", content: [POD] },
  node: {
    type: "node",
    namespace: "default",
    name: "edge-1",
    content: {
      metadata: { name: "edge-1" },
      status: { addresses: [{ type: "InternalIP", address: "192.0.2.11" }] },
    },
  },
};

/** The change that creates `o`. */
export function insertOf(o: KindObject): ResourceChange {
  return { operation: "insert", ...o };
}

/** `o` in namespace `namespace` (route and `metadata.namespace`). */
export function inNamespace(o: KindObject, namespace: string): KindObject {
  const content = o.content as { metadata: Record<string, unknown> };
  return { ...o, namespace, content: { ...content, metadata: { ...content.metadata, namespace } } };
}
