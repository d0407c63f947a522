// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * One text for a YAML parse error, shared by config files and `ctl apply` manifests: where it
 * is and what is wrong, naming the key for a repeated one (`npm:yaml` points at the key's first
 * character and says only "Map keys must be unique").
 * @module
 */

/** The parts of an `npm:yaml` error the text is made from. */
export interface YamlErrorLike {
  readonly code?: string;
  /** Character offsets `[start, end]` in the text. */
  readonly pos: readonly number[];
  readonly message: string;
}

/**
 * `line 4, column 1: Map keys must be unique (key "subnet")`: the 1-based position of `err` in
 * `text` and the first line of its message.
 */
export function yamlErrorText(text: string, err: YamlErrorLike): string {
  const offset = err.pos[0] ?? 0;
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  const col = offset - before.lastIndexOf("\n");
  let message = err.message.split("\n")[0]!;
  if (err.code === "DUPLICATE_KEY") {
    const rest = text.slice(offset).split("\n")[0]!;
    const key = /^("(?:[^"\\]|\\.)*"|'[^']*'|[^:#]+?)\s*:/.exec(rest)?.[1];
    if (key !== undefined) {
      message += ` (key ${/^["']/.test(key) ? key : JSON.stringify(key)})`;
    }
  }
  return `line ${line}, column ${col}: ${message}`;
}
