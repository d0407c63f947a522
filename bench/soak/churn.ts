// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The soak's control-plane churn: a pool of services that are created, updated (a second port
 * added or removed), deleted, and whose endpoint flaps between ready and not ready and between
 * node A and node B. `step()` is pure (the random source is injected); the changes it returns
 * are KubeEdge messages' routes and contents, sent by `bench/soak.ts` to both agents.
 * @module
 */
import type { ChangeSpec } from "../lib/k8s.ts";

/** The namespace of every soak object. */
export const SOAK_NS = "soak";

/** A pool service as the harness last sent it. */
export interface PoolService {
  readonly name: string;
  /** 1: port 80; 2: ports 80 and 81. */
  readonly ports: 1 | 2;
  readonly node: "a" | "b";
  readonly ready: boolean;
}

/** The pool: every name that may exist, and those that do now. */
export interface PoolState {
  readonly names: readonly string[];
  readonly alive: ReadonlyMap<string, PoolService>;
}

/** Where each node's backend listens (the endpoint addresses of its services). */
export type Backends = Readonly<Record<"a" | "b", string>>;

/** The endpoint port every service targets (the backends' port). */
export const BACKEND_PORT = 8080;

/** `count` names `p-000`…, none alive. */
export function emptyPool(count: number): PoolState {
  const names = Array.from({ length: count }, (_, i) => `p-${String(i).padStart(3, "0")}`);
  return { names, alive: new Map() };
}

/** The v1 Service object of `s`. */
export function serviceObject(s: Pick<PoolService, "name" | "ports">): Record<string, unknown> {
  const ports = [{ name: "http", protocol: "TCP", port: 80, targetPort: BACKEND_PORT }];
  if (s.ports === 2) {
    ports.push({ name: "alt", protocol: "TCP", port: 81, targetPort: BACKEND_PORT });
  }
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: s.name, namespace: SOAK_NS },
    spec: { type: "ClusterIP", ports },
  };
}

/** The v1 Endpoints object of `s`: its one address ready or not, on its node's backend. */
export function endpointsObject(
  s: Pick<PoolService, "name" | "node" | "ready">,
  backends: Backends,
): Record<string, unknown> {
  const address = { ip: backends[s.node], nodeName: s.node };
  return {
    apiVersion: "v1",
    kind: "Endpoints",
    metadata: { name: s.name, namespace: SOAK_NS },
    subsets: [{
      ...(s.ready ? { addresses: [address] } : { notReadyAddresses: [address] }),
      ports: [{ name: "http", port: BACKEND_PORT, protocol: "TCP" }],
    }],
  };
}

/** The changes that create `s` or update it to `s` (service, then endpoints). */
export function upsert(
  s: PoolService,
  backends: Backends,
  operation: "insert" | "update",
): ChangeSpec[] {
  return [
    { operation, resource: `${SOAK_NS}/service/${s.name}`, content: serviceObject(s) },
    {
      operation,
      resource: `${SOAK_NS}/endpoints/${s.name}`,
      content: endpointsObject(s, backends),
    },
  ];
}

/** The changes that delete service `name` (endpoints first, as the endpoints controller does). */
export function remove(name: string): ChangeSpec[] {
  return [
    { operation: "delete", resource: `${SOAK_NS}/endpoints/${name}`, content: {} },
    { operation: "delete", resource: `${SOAK_NS}/service/${name}`, content: {} },
  ];
}

/** What one step did (for counting). */
export type StepKind = "create" | "delete" | "ports" | "ready" | "move";

/**
 * One churn step: keeps about `target` services alive (creates below `target − 10`, deletes
 * above `target + 10`), otherwise creates or deletes (10 % each), changes the ports (20 %),
 * flips readiness (30 %) or moves the endpoint to the other node (30 %).
 */
export function step(
  pool: PoolState,
  target: number,
  backends: Backends,
  random: () => number,
): { pool: PoolState; kind: StepKind; changes: ChangeSpec[] } {
  const alive = new Map(pool.alive);
  const dead = pool.names.filter((n) => !alive.has(n));
  const live = [...alive.values()];
  const pickOf = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const r = random();
  let kind: StepKind;
  if (dead.length > 0 && (alive.size < target - 10 || (alive.size <= target + 10 && r < 0.1))) {
    kind = "create";
  } else if (live.length > 0 && (alive.size > target + 10 || r < 0.2)) {
    kind = "delete";
  } else if (live.length === 0) {
    kind = "create";
  } else {
    kind = r < 0.4 ? "ports" : r < 0.7 ? "ready" : "move";
  }
  let changes: ChangeSpec[];
  if (kind === "create") {
    const s: PoolService = {
      name: pickOf(dead),
      ports: random() < 0.5 ? 1 : 2,
      node: random() < 0.5 ? "a" : "b",
      ready: random() < 0.8,
    };
    alive.set(s.name, s);
    changes = upsert(s, backends, "insert");
  } else if (kind === "delete") {
    const s = pickOf(live);
    alive.delete(s.name);
    changes = remove(s.name);
  } else {
    const old = pickOf(live);
    const s: PoolService = kind === "ports"
      ? { ...old, ports: old.ports === 1 ? 2 : 1 }
      : kind === "ready"
      ? { ...old, ready: !old.ready }
      : { ...old, node: old.node === "a" ? "b" : "a" };
    alive.set(s.name, s);
    changes = kind === "ports"
      ? [upsert(s, backends, "update")[0]!]
      : [upsert(s, backends, "update")[1]!];
  }
  return { pool: { names: pool.names, alive }, kind, changes };
}
