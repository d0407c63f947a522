// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Helpers for reading a raw (parsed YAML/JSON) document and wording its problems: whether a value
 * is a mapping ({@linkcode isPlainObject}), a value as a message names it ({@linkcode describe}),
 * and the known key a misspelt one was meant to be ({@linkcode suggest}).
 * @module
 */

/** Whether `v` is a plain `{…}` object (not an array, null, or class instance). */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** A short human description of a value for messages: `"x"`, `5`, `a list`, `a mapping`. */
export function describe(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return String(v);
}

/** The known key closest to `key` (case-insensitive match or edit distance ≤ 2). */
export function suggest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDist = 3;
  for (const k of known) {
    if (k.toLowerCase() === key.toLowerCase()) return k;
    const dist = editDistance(key.toLowerCase(), k.toLowerCase());
    if (dist < bestDist) [best, bestDist] = [k, dist];
  }
  return best;
}

/** Damerau-Levenshtein distance (optimal string alignment), for typo suggestions. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from(
    { length: a.length + 1 },
    (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        v = Math.min(v, d[i - 2]![j - 2]! + 1);
      }
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
