// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Reading untrusted JSON (the `content` of KubeEdge messages) while collecting every problem
 * with its field path, so one error reply lists all of them:
 * `Cannot apply "default/service/x": spec.ports[0].port 70000 is out of range; …`.
 *
 * Internal to the registry's conversion (`convert.ts`, `names.ts`, `kinds.ts`); pure.
 * @module
 */

type ErrorClass = TypeErrorConstructor | RangeErrorConstructor | SyntaxErrorConstructor;

/**
 * Collects problems with their error class; the first problem decides the thrown class
 * (`TypeError` for wrong shapes and missing fields, `RangeError` for bad values).
 */
export class Problems {
  readonly list: { cls: ErrorClass; text: string }[] = [];
  /** A wrong shape or a missing field at `path`. */
  type(path: string, text: string): void {
    this.list.push({ cls: TypeError, text: path === "" ? text : `${path} ${text}` });
  }
  /** A value out of range or not one of the allowed ones at `path`. */
  range(path: string, text: string): void {
    this.list.push({ cls: RangeError, text: path === "" ? text : `${path} ${text}` });
  }
  /** Throws one error listing every problem, prefixed `Cannot apply "<resource>": `. */
  throwIfAny(resource: string): void {
    const first = this.list[0];
    if (!first) return;
    throw new first.cls(`Cannot apply "${resource}": ${this.list.map((p) => p.text).join("; ")}`);
  }
}

/** `path.key`, `path[3]`, or `path["odd/key"]` for keys that are not identifiers. */
export function at(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) return `${path}[${JSON.stringify(key)}]`;
  return path === "" ? key : `${path}.${key}`;
}

/** A value as shown in a problem: strings quoted, containers named. */
export function describe(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (Array.isArray(v)) return "an array";
  if (v === null) return "null";
  if (typeof v === "object") return "an object";
  return String(v);
}

/** A JSON object as read from content. */
export type Obj = Readonly<Record<string, unknown>>;

/** Whether `v` is a JSON object (not null, not an array). */
export function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `v` as an object; absent (undefined/null) → `{}`; anything else is a problem. */
export function optObj(v: unknown, path: string, p: Problems): Obj {
  if (v === undefined || v === null) return {};
  if (isObj(v)) return v;
  p.type(path, `is not an object (got ${describe(v)})`);
  return {};
}

/** `v` as an array; absent → `[]`; anything else is a problem. */
export function optArray(v: unknown, path: string, p: Problems): readonly unknown[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v;
  p.type(path, `is not an array (got ${describe(v)})`);
  return [];
}

/** `v` as a string; absent or `""` → null (Go's `omitempty`); anything else is a problem. */
export function optString(v: unknown, path: string, p: Problems): string | null {
  if (v === undefined || v === null || v === "") return null;
  if (typeof v === "string") return v;
  p.type(path, `is not a string (got ${describe(v)})`);
  return null;
}

/** A `map[string]string` (labels, annotations, selectors). */
export function stringMap(v: unknown, path: string, p: Problems): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(optObj(v, path, p))) {
    if (typeof val === "string") out[k] = val;
    else p.type(at(path, k), `is not a string (got ${describe(val)})`);
  }
  return out;
}

/** The object at the root of an item (`base` "" is the whole content). */
export function rootObj(content: unknown, base: string, p: Problems): Obj | null {
  if (isObj(content)) return content;
  p.type(base === "" ? "content" : base, `is not an object (got ${describe(content)})`);
  return null;
}
