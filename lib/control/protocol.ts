// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The control-socket wire protocol: KubeEdge (beehive) message envelopes in, one JSON reply
 * line out. Pure: no sockets here, so every fixture line is testable as a string.
 *
 * Envelope (beehive `model.Message`):
 * `{"header":{"msg_id","parent_msg_id","timestamp","resourceversion"},
 *   "route":{"source","group","operation","resource"},"content":…}`.
 * `route.resource` is `<namespace>/<type>/<name>` as edgecontroller builds it; the 5-token
 * cloud form `node/<nodeID>/<namespace>/<type>/<name>` (before CloudHub trims it) is
 * accepted too.
 * @module
 */
import {
  type ChangeOperation,
  type ChangeResult,
  RESOURCE_TYPES,
  type ResourceType,
} from "../registry/model.ts";

export { type ChangeOperation, type ChangeResult, RESOURCE_TYPES, type ResourceType };

/** Longest accepted message line in bytes, without the newline. */
export const MAX_LINE_BYTES = 1 << 20;

/** Every operation a message may carry; `query` serves `ctl get` and `ctl status`. */
export type Operation = ChangeOperation | "query";
/** What a query asks for: one or all services, their endpoints, or the agent status. */
export type QueryType = "service" | "services" | "endpoints" | "status";

/** The operations, in the order error messages list them. */
export const OPERATIONS: readonly Operation[] = ["insert", "update", "delete", "query"];
/** The query types, in the order error messages list them. */
export const QUERY_TYPES: readonly QueryType[] = ["service", "services", "endpoints", "status"];

/**
 * A registry change, shaped exactly like the registry's `ResourceChange` (structurally
 * assignable to it) so this module depends only on the shared `registry/model.ts`.
 */
export interface ChangeRequest {
  readonly operation: ChangeOperation;
  readonly namespace: string;
  readonly type: ResourceType;
  readonly name: string;
  /** The Kubernetes object (or list of them for `servicelist`/`podlist`); null on delete without one. */
  readonly content: unknown;
}

/** A read-only question; `null` namespace/name (wire `*`) mean "all". */
export interface QueryRequest {
  readonly type: QueryType;
  readonly namespace: string | null;
  readonly name: string | null;
}

/** The beehive header fields we read. */
export interface MessageHeader {
  /** `header.msg_id`, echoed in the reply; null when absent. */
  readonly msgId: string | null;
  readonly parentMsgId: string;
  /** Milliseconds since the epoch, or null. */
  readonly timestamp: number | null;
  readonly resourceVersion: string;
}

/** A parsed control message. */
export type ControlMessage =
  | { readonly kind: "change"; readonly header: MessageHeader; readonly change: ChangeRequest }
  | { readonly kind: "query"; readonly header: MessageHeader; readonly query: QueryRequest };

/** One reply line. `content` is present on successful queries, `found` on successful deletes. */
export interface Reply {
  readonly "msg_id": string | null;
  readonly ok: boolean;
  readonly error?: string;
  readonly content?: unknown;
  /**
   * On a successful `delete`: whether the object was there (and is now removed). A delete of
   * something absent stays `ok` (senders replaying deletes see no errors); this tells the two
   * apart for `ctl delete`. Absent from agents before it was added: read that as removed.
   */
  readonly found?: boolean;
  /**
   * On a successful change that left the registry as it was (the same objects re-sent, a delete
   * of something absent): `true`; nothing was written and the registry version did not move.
   * Absent otherwise, and from agents before it was added.
   */
  readonly unchanged?: boolean;
}

const PREFIX = "Cannot parse message: ";

/**
 * Parses one message line.
 * @throws {SyntaxError} when the line is not JSON or longer than {@linkcode MAX_LINE_BYTES}
 * @throws {TypeError} when the envelope's shape, operation, type or resource is wrong
 */
export function parseMessage(line: string): ControlMessage {
  if (line.length > MAX_LINE_BYTES || utf8Length(line) > MAX_LINE_BYTES) {
    throw new SyntaxError(lineTooLongMessage());
  }
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new SyntaxError(`${PREFIX}not valid JSON`);
  }
  return parseMessageValue(value);
}

/** The error text for a line over the limit (the server reports it without decoding the line). */
export function lineTooLongMessage(): string {
  return `${PREFIX}line exceeds ${MAX_LINE_BYTES} bytes`;
}

/**
 * Parses an already-decoded JSON value as a message.
 * @throws {TypeError} when the envelope's shape, operation, type or resource is wrong
 */
export function parseMessageValue(value: unknown): ControlMessage {
  const msg = object(value, "message", "a JSON object");
  const headerValue = msg.header === undefined ? {} : object(msg.header, "header", "an object");
  const header: MessageHeader = {
    msgId: optionalString(headerValue.msg_id, "header.msg_id"),
    parentMsgId: optionalString(headerValue.parent_msg_id, "header.parent_msg_id") ?? "",
    timestamp: optionalNumber(headerValue.timestamp, "header.timestamp"),
    resourceVersion: optionalString(headerValue.resourceversion, "header.resourceversion") ?? "",
  };
  if (msg.route === undefined) fail("route is missing");
  const route = object(msg.route, "route", "an object");
  const operation = requiredString(route.operation, "route.operation");
  if (!(OPERATIONS as readonly string[]).includes(operation)) {
    fail(`route.operation ${q(operation)} is not one of ${OPERATIONS.join(", ")}`);
  }
  const resource = requiredString(route.resource, "route.resource");
  const [namespace, type, name] = splitResource(resource);

  if (operation === "query") {
    if (!(QUERY_TYPES as readonly string[]).includes(type)) {
      fail(
        `route.resource ${q(resource)}: query type ${q(type)} is not one of ${
          QUERY_TYPES.join(", ")
        }`,
      );
    }
    return {
      kind: "query",
      header,
      query: {
        type: type as QueryType,
        namespace: namespace === "*" || namespace === "" ? null : namespace,
        name: name === "*" || name === "" ? null : name,
      },
    };
  }

  if (!(RESOURCE_TYPES as readonly string[]).includes(type)) {
    fail(
      `route.resource ${q(resource)}: type ${q(type)} is not one of ${RESOURCE_TYPES.join(", ")}`,
    );
  }
  if (name === "") fail(`route.resource ${q(resource)}: name is empty`);
  if (namespace === "" && type !== "node") {
    fail(`route.resource ${q(resource)}: namespace is empty`);
  }
  const content = msg.content;
  if (operation !== "delete" && (content === undefined || content === null)) {
    fail(`content is missing for ${q(operation)} of ${q(resource)}`);
  }
  checkIdentity(resource, type as ResourceType, namespace, name, content);
  return {
    kind: "change",
    header,
    change: {
      operation: operation as ChangeOperation,
      namespace,
      type: type as ResourceType,
      name,
      content: content ?? null,
    },
  };
}

/**
 * Reads `header.msg_id` from a line as far as it can be read, for error replies; null when
 * the line is not JSON or has none.
 */
export function readMsgId(value: unknown): string | null {
  if (typeof value !== "object" || value === null) return null;
  const header = (value as Record<string, unknown>).header;
  if (typeof header !== "object" || header === null) return null;
  const id = (header as Record<string, unknown>).msg_id;
  return typeof id === "string" ? id : null;
}

/** `<namespace>/<type>/<name>`, the `route.resource` of a change. */
export function formatResource(namespace: string, type: string, name: string): string {
  return `${namespace}/${type}/${name}`;
}

/** Options of {@linkcode buildMessage}. */
export interface BuildMessageOptions {
  readonly operation: Operation;
  readonly resource: string;
  readonly content?: unknown;
  readonly msgId?: string;
  /** `route.source`. @default {"edgemesh-ctl"} */
  readonly source?: string;
  /** Clock for `header.timestamp`. @default {Date.now} */
  readonly now?: () => number;
}

/** Builds a beehive envelope (what `edgemesh ctl` sends). */
export function buildMessage(options: BuildMessageOptions): Record<string, unknown> {
  return {
    header: {
      msg_id: options.msgId ?? crypto.randomUUID(),
      parent_msg_id: "",
      timestamp: (options.now ?? Date.now)(),
      resourceversion: "",
    },
    route: {
      source: options.source ?? "edgemesh-ctl",
      group: options.operation === "query" ? "query" : "resource",
      operation: options.operation,
      resource: options.resource,
    },
    content: options.content ?? null,
  };
}

/** The reply to a successful message; queries carry `content`. */
export function okReply(msgId: string | null, content?: unknown): Reply {
  return content === undefined
    ? { "msg_id": msgId, ok: true }
    : { "msg_id": msgId, ok: true, content };
}

/**
 * The reply to an applied change: a delete's says whether there was anything to remove
 * (`found`), and one that left the registry as it was says `unchanged: true`; any other change's,
 * or one whose target could not tell (`undefined`), is the plain {@linkcode okReply}.
 */
export function changeReply(msgId: string | null, result: ChangeResult | undefined): Reply {
  return {
    ...okReply(msgId),
    ...(result?.operation === "delete" ? { found: result.found } : {}),
    ...(result?.unchanged === true ? { unchanged: true } : {}),
  };
}

/** The reply to a failed message. */
export function errorReply(msgId: string | null, error: string): Reply {
  return { "msg_id": msgId, ok: false, error };
}

/** Encodes a reply as one line, newline included. */
export function encodeReply(reply: Reply): string {
  return JSON.stringify(reply) + "\n";
}

/**
 * Parses one reply line (client side).
 * @throws {SyntaxError} when the line is not a reply object
 */
export function parseReply(line: string): Reply {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new SyntaxError(`Cannot parse reply: not valid JSON: ${line.slice(0, 80)}`);
  }
  if (typeof v !== "object" || v === null || typeof (v as Reply).ok !== "boolean") {
    throw new SyntaxError(`Cannot parse reply: expected {"msg_id","ok"}: ${line.slice(0, 80)}`);
  }
  const r = v as Reply;
  if (!r.ok && typeof r.error !== "string") {
    throw new SyntaxError(`Cannot parse reply: failed reply without an error`);
  }
  for (const field of ["found", "unchanged"] as const) {
    if (r[field] !== undefined && typeof r[field] !== "boolean") {
      throw new SyntaxError(
        `Cannot parse reply: ${field} must be a boolean, got ${kindOf(r[field])}`,
      );
    }
  }
  return r;
}

function splitResource(resource: string): [string, string, string] {
  const t = resource.split("/");
  if (t.length === 3) return [t[0]!, t[1]!, t[2]!];
  if (t.length === 5 && t[0] === "node" && t[1] !== "") return [t[2]!, t[3]!, t[4]!];
  fail(
    `route.resource ${q(resource)} is not <namespace>/<type>/<name> ` +
      `or node/<nodeID>/<namespace>/<type>/<name>`,
  );
}

/** The route must name the object it carries (a mismatch is a sender bug, never applied). */
function checkIdentity(
  resource: string,
  type: ResourceType,
  namespace: string,
  name: string,
  content: unknown,
): void {
  if (type === "servicelist" || type === "podlist") {
    if (content !== null && content !== undefined && !Array.isArray(content)) {
      fail(`content of ${q(resource)} must be a list, got ${kindOf(content)}`);
    }
    return;
  }
  if (content === null || content === undefined) return;
  if (typeof content !== "object" || Array.isArray(content)) {
    fail(`content of ${q(resource)} must be an object, got ${kindOf(content)}`);
  }
  const meta = (content as Record<string, unknown>).metadata;
  if (typeof meta !== "object" || meta === null) return;
  const m = meta as Record<string, unknown>;
  const objName = typeof m.name === "string" ? m.name : name;
  const objNs = type === "node"
    ? namespace
    : typeof m.namespace === "string"
    ? m.namespace
    : namespace;
  if (objName !== name || objNs !== namespace) {
    const shown = type === "node" ? objName : `${objNs}/${objName}`;
    fail(`route.resource ${q(resource)} does not match the object ${q(shown)}`);
  }
}

function object(v: unknown, what: string, expected: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    fail(`${what === "message" ? "expected" : `${what} must be`} ${expected}, got ${kindOf(v)}`);
  }
  return v as Record<string, unknown>;
}

function requiredString(v: unknown, path: string): string {
  if (v === undefined || v === null) fail(`${path} is missing`);
  if (typeof v !== "string") fail(`${path} must be a string, got ${kindOf(v)}`);
  return v;
}

function optionalString(v: unknown, path: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== "string") fail(`${path} must be a string, got ${kindOf(v)}`);
  return v;
}

function optionalNumber(v: unknown, path: string): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== "number") fail(`${path} must be a number, got ${kindOf(v)}`);
  return v;
}

function kindOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  if (typeof v === "string") return `a string`;
  return `a ${typeof v}`;
}

function q(s: string): string {
  return JSON.stringify(s);
}

function fail(detail: string): never {
  throw new TypeError(PREFIX + detail);
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}
