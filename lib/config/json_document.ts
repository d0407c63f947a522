// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Reading a JSON document without the YAML parser. Config files and manifests may be YAML or
 * JSON; YAML 1.2 is a superset of JSON, so the YAML parser reads both, but loading `npm:yaml`
 * costs about 10 MiB of resident memory for the rest of the process (Deno's npm/node-compat
 * machinery). Callers try {@linkcode readJsonDocument} first and load `yaml` only when it
 * returns null.
 *
 * The result is the value the YAML parser would have produced: only text whose first
 * non-blank character is `{` or `[` and that `JSON.parse` accepts is taken, and a repeated
 * key (which `JSON.parse` silently resolves to the last one, while our YAML reading reports
 * it as an error) sends the text to the YAML parser too, so its error message is the same as
 * before. Everything else (YAML, invalid JSON, an empty file) is left to the YAML parser.
 * @module
 */

/** The value of a JSON document, or null when the text is not one (see the module doc). */
export function readJsonDocument(text: string): { readonly value: unknown } | null {
  const start = text.search(/\S/);
  if (start < 0 || (text[start] !== "{" && text[start] !== "[")) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (parsedKeys(value) !== keyTokens(text)) return null; // a key repeated in one object
  return { value };
}

/** Keys of all objects in a parsed JSON value (repeated keys counted once). */
function parsedKeys(value: unknown): number {
  let n = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== "object" || v === null) continue;
    if (Array.isArray(v)) {
      for (const item of v) stack.push(item);
      continue;
    }
    for (const k of Object.keys(v)) {
      n++;
      stack.push((v as Record<string, unknown>)[k]);
    }
  }
  return n;
}

/** Keys written in valid JSON text: the strings followed (after blanks) by a `:`. */
function keyTokens(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) !== 0x22) continue;
    i++;
    while (text.charCodeAt(i) !== 0x22) i += text.charCodeAt(i) === 0x5c ? 2 : 1;
    let j = i + 1;
    while (j < text.length && " \t\n\r".includes(text[j]!)) j++;
    if (text[j] === ":") n++;
  }
  return n;
}
