// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Checks the content of `query` replies before `ctl get` and `ctl status` use it, so an agent
 * of another version (or something else on the socket) gives a clear error naming the bad
 * field instead of a crash in the table or status formatter.
 * @module
 */
import type { ServiceView, StatusInfo } from "../control/mod.ts";

const PREFIX = "Cannot read the agent's reply: ";

type Check = (v: unknown, path: string) => void;

/**
 * The content of a services/endpoints query reply, checked field by field.
 * @throws {TypeError} `Cannot read the agent's reply: content[0].ports must be an array, got …`
 */
export function serviceViewsOf(content: unknown): ServiceView[] {
  arrayOf(serviceView)(content, "content");
  return content as ServiceView[];
}

/**
 * The content of a status query reply, checked as far as `ctl status` reads it.
 * @throws {TypeError} `Cannot read the agent's reply: content.counts is missing`
 */
export function statusInfoOf(content: unknown): StatusInfo {
  fields({
    node: str,
    counts: fields({ services: num, endpoints: num, vips: num, nodes: num }),
    version: optional(str),
    build: optional(fields({ commit: str, source: str, dirty: optional(bool) })),
    startedAt: optional(str),
    device: optional(fields({ name: str, type: optional(str), state: optional(str) })),
    addresses: optional(arrayOf(str)),
    listeners: optional(arrayOf(str)),
    proxy: optional(component),
    dns: optional(component),
    tunnel: optional(component),
    peers: optional(arrayOf(fields({ name: str, address: str, state: str }))),
    lastSync: optional(nullable(str)),
    lastMessage: optional(nullable(str)),
    registryVersion: optional(num),
    reconciledVersion: optional(num),
  })(content, "content");
  return content as StatusInfo;
}

const serviceView: Check = (v, path) =>
  fields({
    namespace: str,
    name: str,
    vip: nullable(str),
    proxyName: optional(str),
    vipError: optional(str),
    ports: arrayOf(fields({ name: str, protocol: str, port: num, targetPort: numOrStr })),
    endpoints: arrayOf(fields({ ip: str, port: num, nodeName: nullable(str), ready: bool })),
  })(v, path);

const component: Check = (v, path) => fields({ state: str, detail: optional(str) })(v, path);

function fields(spec: Readonly<Record<string, Check>>): Check {
  return (v, path) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) fail(path, "an object", v);
    for (const [key, check] of Object.entries(spec)) {
      check((v as Record<string, unknown>)[key], `${path}.${key}`);
    }
  };
}

function arrayOf(check: Check): Check {
  return (v, path) => {
    if (!Array.isArray(v)) fail(path, "an array", v);
    v.forEach((item, i) => check(item, `${path}[${i}]`));
  };
}

function optional(check: Check): Check {
  return (v, path) => v === undefined || check(v, path);
}

function nullable(check: Check): Check {
  return (v, path) => v === null || check(v, path);
}

function primitive(type: "string" | "number" | "boolean", expected: string): Check {
  return (v, path) => typeof v === type || fail(path, expected, v);
}

const str = primitive("string", "a string");
const num = primitive("number", "a number");
const bool = primitive("boolean", "a boolean");
const numOrStr: Check = (v, path) =>
  typeof v === "number" || typeof v === "string" || fail(path, "a number or a string", v);

function fail(path: string, expected: string, got: unknown): never {
  if (got === undefined) throw new TypeError(`${PREFIX}${path} is missing`);
  const kind = got === null
    ? "null"
    : Array.isArray(got)
    ? "an array"
    : `a${typeof got === "object" ? "n" : ""} ${typeof got}`;
  throw new TypeError(`${PREFIX}${path} must be ${expected}, got ${kind}`);
}
