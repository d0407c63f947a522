// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The formats of the registry's state files: `state.json`, a full checkpoint in a versioned
 * format, and `state.journal`, one JSON line per group-committed batch with what it changed
 * since the checkpoint. Encoding (record JSON memoised by identity), validation of what is
 * read back (a file may be truncated, hand-edited or from another version) and the replay of
 * a journal on a checkpoint. Pure: reading and writing the files is `store.ts`.
 * @module
 */

import {
  type Endpoint,
  type EndpointPort,
  type NodeInfo,
  type Service,
  serviceKey,
  type ServicePort,
} from "./model.ts";
import type { PodRecord, ServiceRecord, SliceRecord } from "./convert.ts";

/** The current state file format; files with another `format` are treated as unreadable. */
export const STATE_FORMAT = 1;

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
/**
 * An optional boolean field (`{}` when absent, `{[name]: value}` otherwise), for fields added
 * after state was first written: state from an older version lacks them and must still load.
 */
function optBoolField<K extends string>(
  o: Obj,
  name: K,
  path: string,
): { readonly [k in K]?: boolean } {
  const v = o[name];
  if (v === undefined) return {};
  return { [name]: bool(v, `${path}.${name}`) } as { [k in K]?: boolean };
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
    // Optional: endpoints written before the conditions were recorded are not terminating.
    ...optBoolField(o, "terminating", path),
    ...optBoolField(o, "serving", path),
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
    // Optional: absent in services edgemesh proxies, and in every state written before it.
    ...(s.proxyName === undefined ? {} : { proxyName: str(s.proxyName, `${sp}.proxyName`) }),
    // Optional: services written before these were recorded are Cluster, not publishing.
    ...(s.internalTrafficPolicy === undefined ? {} : {
      internalTrafficPolicy: oneOf(
        s.internalTrafficPolicy,
        `${sp}.internalTrafficPolicy`,
        ["Cluster", "Local"] as const,
      ),
    }),
    ...optBoolField(s, "publishNotReadyAddresses", sp),
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
    ...optBoolField(o, "terminating", path),
    ports: arr(o.ports, `${path}.ports`).map((p, i) => endpointPort(p, `${path}.ports[${i}]`)),
  };
}

function endpointsRecord(v: unknown, path: string): EndpointsRecord {
  const o = obj(v, path);
  return {
    namespace: str(o.namespace, `${path}.namespace`),
    name: str(o.name, `${path}.name`),
    endpoints: arr(o.endpoints, `${path}.endpoints`).map((x, j) =>
      endpoint(x, `${path}.endpoints[${j}]`)
    ),
  };
}

function sliceRecord(v: unknown, path: string): SliceRecord {
  const o = obj(v, path);
  return {
    namespace: str(o.namespace, `${path}.namespace`),
    name: str(o.name, `${path}.name`),
    service: str(o.service, `${path}.service`),
    endpoints: arr(o.endpoints, `${path}.endpoints`).map((x, j) =>
      endpoint(x, `${path}.endpoints[${j}]`)
    ),
  };
}

function podListRecord(v: unknown, path: string): PodListRecord {
  const o = obj(v, path);
  return {
    namespace: str(o.namespace, `${path}.namespace`),
    name: str(o.name, `${path}.name`),
    pods: arr(o.pods, `${path}.pods`).map((x, j) => podRecord(x, `${path}.pods[${j}]`)),
  };
}

function nodeInfo(v: unknown, path: string): NodeInfo {
  const o = obj(v, path);
  return {
    name: str(o.name, `${path}.name`),
    addresses: arr(o.addresses, `${path}.addresses`).map((a, j) => {
      const ao = obj(a, `${path}.addresses[${j}]`);
      return {
        type: str(ao.type, `${path}.addresses[${j}].type`),
        address: str(ao.address, `${path}.addresses[${j}].address`),
      };
    }),
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
  const list = <T>(name: string, item: (v: unknown, path: string) => T): T[] =>
    arr(root[name], name).map((v, i) => item(v, `${name}[${i}]`));
  return {
    version: int(root.version, "version", 0, Number.MAX_SAFE_INTEGER),
    subnet: str(root.subnet, "subnet"),
    cursor: int(root.cursor, "cursor", 0, 2 ** 32),
    vips,
    services: list("services", serviceRecord),
    endpoints: list("endpoints", endpointsRecord),
    slices: list("slices", sliceRecord),
    podlists: list("podlists", podListRecord),
    pods: list("pods", podRecord),
    nodes: list("nodes", nodeInfo),
  };
}

// ---------------------------------------------------------------------------------------------
// Journal: one line per group-committed batch, `{"version","cursor","ops":[[table,key,value]]}`.
// `value` is the record after the batch, or null when it was removed; `vips` values are the
// VIP string. Keys are those the registry uses (`<ns>/<name>`, node name).

/** The persisted collections a journal op names. */
export type JournalTable =
  | "services"
  | "endpoints"
  | "slices"
  | "podlists"
  | "pods"
  | "nodes"
  | "vips";

/** One journal op: `table[key] = value`, or removal when `value` is null. */
export type JournalOp = readonly [table: JournalTable, key: string, value: object | string | null];

/** What one batch changed; `version` and `cursor` are the values after it. */
export interface JournalEntry {
  readonly version: number;
  readonly cursor: number;
  readonly ops: readonly JournalOp[];
}

/**
 * Encodes one journal line (with its newline). Record JSON is memoised by identity in `cache`,
 * shared with {@linkcode encodeState}.
 */
export function encodeJournalEntry(e: JournalEntry, cache?: WeakMap<object, string>): string {
  const ops = e.ops.map(([table, key, value]) => {
    let json: string;
    if (value === null || typeof value === "string") json = JSON.stringify(value);
    else {
      json = cache?.get(value) ?? JSON.stringify(value);
      cache?.set(value, json);
    }
    return `[${JSON.stringify(table)},${JSON.stringify(key)},${json}]`;
  });
  return `{"version":${e.version},"cursor":${e.cursor},"ops":[${ops.join(",")}]}\n`;
}

const TABLES: Readonly<Record<JournalTable, (v: unknown, path: string) => unknown>> = {
  services: serviceRecord,
  endpoints: endpointsRecord,
  slices: sliceRecord,
  podlists: podListRecord,
  pods: podRecord,
  nodes: nodeInfo,
  vips: str,
};

/**
 * Parses and validates one journal line.
 * @throws {SyntaxError | TypeError} like {@linkcode decodeState}
 */
export function decodeJournalEntry(line: string): JournalEntry {
  const root = obj(JSON.parse(line), "entry");
  const ops = arr(root.ops, "ops").map((v, i): JournalOp => {
    const op = arr(v, `ops[${i}]`);
    const table = oneOf(op[0], `ops[${i}][0]`, Object.keys(TABLES) as JournalTable[]);
    const key = str(op[1], `ops[${i}][1]`);
    const value = op[2] === null ? null : TABLES[table](op[2], `ops[${i}][2]`) as object | string;
    return [table, key, value];
  });
  return {
    version: int(root.version, "version", 0, Number.MAX_SAFE_INTEGER),
    cursor: int(root.cursor, "cursor", 0, 2 ** 32),
    ops,
  };
}

function anyValidLine(text: string): boolean {
  for (const line of text.split("\n")) {
    try {
      decodeJournalEntry(line);
      return true;
    } catch { /* keep looking */ }
  }
  return false;
}

/** Result of {@linkcode replayJournal}. */
export interface ReplayResult {
  readonly state: PersistedState;
  /** Entries applied (entries at or below the checkpoint's version are skipped). */
  readonly applied: number;
  /** Bytes of the journal made of whole, valid lines. */
  readonly validBytes: number;
  /** Set when a bad line was the last one (a write torn by a crash: never acknowledged). */
  readonly tornTail: string | null;
  /** Set when a bad line was followed by good ones: the journal is damaged. */
  readonly corrupt: string | null;
}

/**
 * Applies the journal `text` to the checkpoint `base` (null: empty state with `subnet`).
 * Lines are applied in order up to the first bad one. A bad last line is a torn write (its
 * batch was never acknowledged); a bad line with good lines after it is corruption.
 */
export function replayJournal(
  base: PersistedState | null,
  subnet: string,
  text: string,
): ReplayResult {
  const keyOfNs = (r: { namespace: string; name: string }) => serviceKey(r.namespace, r.name);
  const tables = {
    services: new Map(base?.services.map((r) => [keyOfNs(r.service), r as unknown])),
    endpoints: new Map(base?.endpoints.map((r) => [keyOfNs(r), r as unknown])),
    slices: new Map(base?.slices.map((r) => [keyOfNs(r), r as unknown])),
    podlists: new Map(base?.podlists.map((r) => [keyOfNs(r), r as unknown])),
    pods: new Map(base?.pods.map((r) => [keyOfNs(r), r as unknown])),
    nodes: new Map(base?.nodes.map((r) => [r.name, r as unknown])),
    vips: new Map<string, unknown>(base?.vips ?? []),
  };
  let version = base?.version ?? 0;
  let cursor = base?.cursor ?? 0;
  let applied = 0;
  let validBytes = 0;
  let tornTail: string | null = null;
  let corrupt: string | null = null;
  let start = 0;
  let lineNo = 0;
  while (start < text.length) {
    const nl = text.indexOf("\n", start);
    const end = nl < 0 ? text.length : nl + 1;
    const line = text.slice(start, nl < 0 ? text.length : nl);
    lineNo++;
    let entry: JournalEntry;
    try {
      entry = decodeJournalEntry(line);
      if (nl < 0) throw new SyntaxError("the line has no newline");
    } catch (e) {
      const reason = `line ${lineNo}: ${e instanceof Error ? e.message : String(e)}`;
      if (anyValidLine(text.slice(end))) corrupt = reason;
      else tornTail = reason;
      break;
    }
    if (entry.version > version) {
      for (const [table, key, value] of entry.ops) {
        if (value === null) tables[table].delete(key);
        else tables[table].set(key, value);
      }
      version = entry.version;
      cursor = entry.cursor;
      applied++;
    }
    start = end;
    validBytes = end;
  }
  const vals = <T>(m: Map<string, unknown>) => [...m.values()] as T[];
  return {
    state: {
      version,
      subnet: base?.subnet ?? subnet,
      cursor,
      vips: tables.vips as Map<string, string>,
      services: vals(tables.services),
      endpoints: vals(tables.endpoints),
      slices: vals(tables.slices),
      podlists: vals(tables.podlists),
      pods: vals(tables.pods),
      nodes: vals(tables.nodes),
    },
    applied,
    validBytes,
    tornTail,
    corrupt,
  };
}
