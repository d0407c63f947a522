// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Whether two stored records are the same: what decides that a change left the registry as it
 * was (nothing is written, the version stays, the reply says `unchanged`).
 *
 * Records are compared as they are stored (their JSON): the order of an object's keys does not
 * matter (a re-sent object whose labels or fields come in another order converts to a record
 * that differs only in that order) and a key whose value is `undefined` counts as absent (JSON
 * leaves it out); the order of array items does (endpoints, ports and pods are stored, and
 * served, in the order sent).
 * @module
 */

/**
 * Whether `a` and `b` store the same JSON: primitives by value, arrays item by item in order,
 * plain objects key by key in any order, `undefined`-valued keys ignored.
 */
export function sameStored(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameStored(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const x = a as Readonly<Record<string, unknown>>;
  const y = b as Readonly<Record<string, unknown>>;
  let keys = 0;
  for (const key of Object.keys(x)) {
    if (x[key] === undefined) continue;
    keys++;
    if (!Object.hasOwn(y, key) || !sameStored(x[key], y[key])) return false;
  }
  for (const key of Object.keys(y)) if (y[key] !== undefined) keys--;
  return keys === 0;
}
