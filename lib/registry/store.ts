// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Persistence of the registry in `stateDir/state.json`: the versioned file format, its
 * validation on load, and the atomic write (temp file in the same directory, fsync, rename,
 * fsync of the directory) that makes an `ok` reply mean "on disk".
 *
 * A file that cannot be parsed or validated is never overwritten or discarded: it is renamed to
 * `state.json.corrupt-<timestamp>` and reported, and the registry starts empty.
 * @module
 */

import { dirname, join } from "node:path";
import type { Logger } from "../log/mod.ts";
import type { Endpoint, EndpointPort, NodeInfo, Service, ServicePort } from "./model.ts";
import type { PodRecord, ServiceRecord, SliceRecord } from "./convert.ts";

/** The current state file format; files with another `format` are treated as unreadable. */
export const STATE_FORMAT = 1;
/** File name of the state inside `stateDir`. */
export const STATE_FILE = "state.json";

/** Endpoints of one service from an `Endpoints` object (named like the service). */
export interface EndpointsRecord {
  readonly namespace: string;
  readonly name: string;
  readonly endpoints: readonly Endpoint[];
}

/** The pods a `podlist` message gave for one service. */
export interface PodListRecord {
  readonly namespace: string;
  /** The service name (`<ns>/podlist/<service>`). */
  readonly name: string;
  readonly pods: readonly PodRecord[];
}

/** Everything persisted: the raw sources of the registry plus the VIP assignments. */
export interface PersistedState {
  /** Snapshot version at the time of the write (continues across restarts). */
  readonly version: number;
  /** The subnet the VIPs were allocated from. */
  readonly subnet: string;
  /** Next-fit cursor of the pool (offset from the network address). */
  readonly cursor: number;
  /** Service key → VIP. */
  readonly vips: ReadonlyMap<string, string>;
  readonly services: readonly ServiceRecord[];
  readonly endpoints: readonly EndpointsRecord[];
  readonly slices: readonly SliceRecord[];
  readonly podlists: readonly PodListRecord[];
  readonly pods: readonly PodRecord[];
  readonly nodes: readonly NodeInfo[];
}

/**
 * Encodes the state as the `format: 1` JSON document.
 *
 * Records are immutable (a change replaces the object), so their JSON can be memoised by
 * identity in `cache`: a write after one change then stringifies one record, not all of them.
 */
export function encodeState(s: PersistedState, cache?: WeakMap<object, string>): string {
  const list = (items: readonly object[]): string => {
    if (!cache) return JSON.stringify(items);
    const parts: string[] = [];
    for (const item of items) {
      let json = cache.get(item);
      if (json === undefined) {
        json = JSON.stringify(item);
        cache.set(item, json);
      }
      parts.push(json);
    }
    return `[${parts.join(",")}]`;
  };
  const head = JSON.stringify({
    format: STATE_FORMAT,
    version: s.version,
    subnet: s.subnet,
    cursor: s.cursor,
    vips: Object.fromEntries(s.vips),
  });
  return `${head.slice(0, -1)},"services":${list(s.services)},"endpoints":${list(s.endpoints)},` +
    `"slices":${list(s.slices)},"podlists":${list(s.podlists)},"pods":${list(s.pods)},` +
    `"nodes":${list(s.nodes)}}`;
}

// ---------------------------------------------------------------------------------------------
// Validation of a loaded file (it may be truncated, hand-edited or from another version).

type Obj = Readonly<Record<string, unknown>>;

function bad(path: string, what: string): never {
  throw new TypeError(`${path} ${what}`);
}
function obj(v: unknown, path: string): Obj {
  if (typeof v !== "object" || v === null || Array.isArray(v)) bad(path, "is not an object");
  return v as Obj;
}
function arr(v: unknown, path: string): readonly unknown[] {
  if (!Array.isArray(v)) bad(path, "is not an array");
  return v;
}
function str(v: unknown, path: string): string {
  if (typeof v !== "string") bad(path, "is not a string");
  return v;
}
function strOrNull(v: unknown, path: string): string | null {
  return v === null ? null : str(v, path);
}
function bool(v: unknown, path: string): boolean {
  if (typeof v !== "boolean") bad(path, "is not a boolean");
  return v;
}
function int(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    bad(path, `is not an integer in ${min}..${max}`);
  }
  return v;
}
function oneOf<T extends string>(v: unknown, path: string, values: readonly T[]): T {
  if (typeof v !== "string" || !(values as readonly string[]).includes(v)) {
    bad(path, `is not one of ${values.join(", ")}`);
  }
  return v as T;
}
function strMap(v: unknown, path: string): Record<string, string> {
  const o = obj(v, path);
  for (const [k, val] of Object.entries(o)) str(val, `${path}.${k}`);
  return o as Record<string, string>;
}

const PROTOCOLS = ["TCP", "UDP", "SCTP"] as const;

function endpointPort(v: unknown, path: string): EndpointPort {
  const o = obj(v, path);
  return {
    name: str(o.name, `${path}.name`),
    port: int(o.port, `${path}.port`, 1, 65535),
    protocol: oneOf(o.protocol, `${path}.protocol`, PROTOCOLS),
  };
}

function endpoint(v: unknown, path: string): Endpoint {
  const o = obj(v, path);
  return {
    ip: str(o.ip, `${path}.ip`),
    ready: bool(o.ready, `${path}.ready`),
    nodeName: strOrNull(o.nodeName, `${path}.nodeName`),
    hostname: strOrNull(o.hostname, `${path}.hostname`),
    podName: strOrNull(o.podName, `${path}.podName`),
    ports: arr(o.ports, `${path}.ports`).map((p, i) => endpointPort(p, `${path}.ports[${i}]`)),
  };
}

function servicePort(v: unknown, path: string): ServicePort {
  const o = obj(v, path);
  const tp = obj(o.targetPort, `${path}.targetPort`);
  const kind = oneOf(tp.kind, `${path}.targetPort.kind`, ["number", "name"] as const);
  return {
    name: str(o.name, `${path}.name`),
    protocol: oneOf(o.protocol, `${path}.protocol`, PROTOCOLS),
    port: int(o.port, `${path}.port`, 1, 65535),
    targetPort: kind === "number"
      ? { kind, port: int(tp.port, `${path}.targetPort.port`, 1, 65535) }
      : { kind, name: str(tp.name, `${path}.targetPort.name`) },
  };
}

function serviceRecord(v: unknown, path: string): ServiceRecord {
  const o = obj(v, path);
  const s = obj(o.service, `${path}.service`);
  const sp = `${path}.service`;
  const k = obj(s.kind, `${sp}.kind`);
  const kt = oneOf(k.type, `${sp}.kind.type`, ["ClusterIP", "Headless", "ExternalName"] as const);
  const a = obj(s.sessionAffinity, `${sp}.sessionAffinity`);
  const at = oneOf(a.type, `${sp}.sessionAffinity.type`, ["None", "ClientIP"] as const);
  const service: Service = {
    namespace: str(s.namespace, `${sp}.namespace`),
    name: str(s.name, `${sp}.name`),
    kind: kt === "ExternalName"
      ? { type: kt, externalName: str(k.externalName, `${sp}.kind.externalName`) }
      : { type: kt },
    ports: arr(s.ports, `${sp}.ports`).map((p, i) => servicePort(p, `${sp}.ports[${i}]`)),
    sessionAffinity: at === "ClientIP"
      ? {
        type: at,
        timeoutSeconds: int(a.timeoutSeconds, `${sp}.sessionAffinity.timeoutSeconds`, 1, 86400),
      }
      : { type: at },
    ...(s.lbStrategy === undefined
      ? {}
      : { lbStrategy: oneOf(s.lbStrategy, `${sp}.lbStrategy`, ["RoundRobin", "Random"] as const) }),
  };
  return {
    service,
    selector: o.selector === null ? null : strMap(o.selector, `${path}.selector`),
  };
}

function podRecord(v: unknown, path: string): PodRecord {
  const o = obj(v, path);
  return {
    namespace: str(o.namespace, `${path}.namespace`),
    name: str(o.name, `${path}.name`),
    labels: strMap(o.labels, `${path}.labels`),
    ip: strOrNull(o.ip, `${path}.ip`),
    nodeName: strOrNull(o.nodeName, `${path}.nodeName`),
    hostname: strOrNull(o.hostname, `${path}.hostname`),
    running: bool(o.running, `${path}.running`),
    ready: bool(o.ready, `${path}.ready`),
    ports: arr(o.ports, `${path}.ports`).map((p, i) => endpointPort(p, `${path}.ports[${i}]`)),
  };
}

/**
 * Parses and validates a state document.
 * @throws {SyntaxError} when it is not JSON
 * @throws {TypeError} naming the first field that does not fit the format
 */
export function decodeState(text: string): PersistedState {
  const root = obj(JSON.parse(text), "document");
  if (root.format !== STATE_FORMAT) {
    bad("format", `${JSON.stringify(root.format)} is not the supported format ${STATE_FORMAT}`);
  }
  const vips = new Map<string, string>();
  for (const [k, v] of Object.entries(obj(root.vips, "vips"))) vips.set(k, str(v, `vips.${k}`));
  return {
    version: int(root.version, "version", 0, Number.MAX_SAFE_INTEGER),
    subnet: str(root.subnet, "subnet"),
    cursor: int(root.cursor, "cursor", 0, 2 ** 32),
    vips,
    services: arr(root.services, "services").map((s, i) => serviceRecord(s, `services[${i}]`)),
    endpoints: arr(root.endpoints, "endpoints").map((e, i) => {
      const o = obj(e, `endpoints[${i}]`);
      return {
        namespace: str(o.namespace, `endpoints[${i}].namespace`),
        name: str(o.name, `endpoints[${i}].name`),
        endpoints: arr(o.endpoints, `endpoints[${i}].endpoints`).map((x, j) =>
          endpoint(x, `endpoints[${i}].endpoints[${j}]`)
        ),
      };
    }),
    slices: arr(root.slices, "slices").map((e, i) => {
      const o = obj(e, `slices[${i}]`);
      return {
        namespace: str(o.namespace, `slices[${i}].namespace`),
        name: str(o.name, `slices[${i}].name`),
        service: str(o.service, `slices[${i}].service`),
        endpoints: arr(o.endpoints, `slices[${i}].endpoints`).map((x, j) =>
          endpoint(x, `slices[${i}].endpoints[${j}]`)
        ),
      };
    }),
    podlists: arr(root.podlists, "podlists").map((e, i) => {
      const o = obj(e, `podlists[${i}]`);
      return {
        namespace: str(o.namespace, `podlists[${i}].namespace`),
        name: str(o.name, `podlists[${i}].name`),
        pods: arr(o.pods, `podlists[${i}].pods`).map((x, j) =>
          podRecord(x, `podlists[${i}].pods[${j}]`)
        ),
      };
    }),
    pods: arr(root.pods, "pods").map((p, i) => podRecord(p, `pods[${i}]`)),
    nodes: arr(root.nodes, "nodes").map((n, i) => {
      const o = obj(n, `nodes[${i}]`);
      return {
        name: str(o.name, `nodes[${i}].name`),
        addresses: arr(o.addresses, `nodes[${i}].addresses`).map((a, j) => {
          const ao = obj(a, `nodes[${i}].addresses[${j}]`);
          return {
            type: str(ao.type, `nodes[${i}].addresses[${j}].type`),
            address: str(ao.address, `nodes[${i}].addresses[${j}].address`),
          };
        }),
      };
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// File I/O

/** The file-system seam of the store (tests inject failures or count writes). */
export interface StateFs {
  /** Replaces `path` with `data` atomically and durably. */
  writeAtomic(path: string, data: string): Promise<void>;
}

const encoder = new TextEncoder();

/**
 * Writes `data` to `path` so that after a crash the file holds either the old or the new
 * content, never a mix: write `path.tmp` in the same directory, fsync it, rename it over
 * `path`, then fsync the directory so the rename itself is durable.
 */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.tmp`;
  const bytes = encoder.encode(data);
  const f = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: 0o600 });
  try {
    let off = 0;
    while (off < bytes.length) off += await f.write(bytes.subarray(off));
    await f.sync();
  } finally {
    f.close();
  }
  await Deno.rename(tmp, path);
  const dir = await Deno.open(dirname(path), { read: true });
  try {
    await dir.sync();
  } finally {
    dir.close();
  }
}

/** The real file system. */
export const denoStateFs: StateFs = { writeAtomic: writeFileAtomic };

/** Result of {@linkcode loadState}. */
export interface LoadResult {
  /** The state, or null when there was none (or it was unreadable and moved aside). */
  readonly state: PersistedState | null;
  /** Set when the file was unreadable: what happened, for `ctl status`. */
  readonly warning: string | null;
}

function stamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
}

/**
 * Creates `stateDir` (mode 0700) when missing and reads `state.json`. A file that does not
 * parse or validate is logged at error level with its path and the reason, renamed to
 * `state.json.corrupt-<timestamp>`, and reported through `warning`.
 * @throws {Deno.errors.PermissionDenied | Error} when the directory or file cannot be read at
 *   all (starting empty would then overwrite state we could not look at)
 */
export async function loadState(
  stateDir: string,
  log: Logger,
  now: () => number,
): Promise<LoadResult> {
  await Deno.mkdir(stateDir, { recursive: true, mode: 0o700 });
  const path = join(stateDir, STATE_FILE);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { state: null, warning: null };
    throw e;
  }
  try {
    return { state: decodeState(text), warning: null };
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    let aside = `${path}.corrupt-${stamp(now())}`;
    for (let i = 1; await exists(aside); i++) aside = `${path}.corrupt-${stamp(now())}-${i}`;
    await Deno.rename(path, aside);
    const warning =
      `State file "${path}" is unreadable (${reason}); moved it to "${aside}" and started with an empty registry`;
    log.error("state file is unreadable; moved aside, starting empty", {
      path,
      reason,
      movedTo: aside,
    });
    return { state: null, warning };
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
