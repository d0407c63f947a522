// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Reading the configuration: an optional YAML or JSON file (YAML 1.2 is a superset of
 * JSON), command-line flag overrides on top, then {@linkcode parseConfig}. With no file the
 * embedded defaults are used, which is what `make run` relies on.
 *
 * `npm:yaml` is imported only when a file needs it: a JSON file is read with `JSON.parse`
 * (see `json_document.ts`), so an agent with a JSON config never loads the npm machinery.
 * @module
 */
import type { Config } from "./schema.ts";
import { readJsonDocument } from "./json_document.ts";
import { ConfigError } from "./issues.ts";
import { parseConfig } from "./parse.ts";
import { isPlainObject } from "./values.ts";
import { yamlErrorText } from "./yaml_error.ts";

/** Options of {@linkcode loadConfig}. */
export interface LoadConfigOptions {
  /** Path of a YAML or JSON config file; omitted → built-in defaults only. */
  readonly file?: string;
  /** Values that win over the file (from CLI flags), keyed by config key. */
  readonly overrides?: Readonly<Record<string, unknown>>;
  /** The default `nodeName`. @default {Deno.hostname()} */
  readonly hostname?: string;
  /** Reads the file, for tests. @default {Deno.readTextFile} */
  readonly readTextFile?: (path: string) => Promise<string>;
}

/**
 * Loads, merges and validates the configuration.
 * @throws {ConfigError} when the file cannot be read or parsed, or any key is invalid;
 *   `issues` lists every problem
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<Config> {
  const { file } = options;
  let raw: Record<string, unknown> = {};
  if (file !== undefined) {
    let text: string;
    try {
      text = await (options.readTextFile ?? Deno.readTextFile)(file);
    } catch (err) {
      const reason = err instanceof Deno.errors.NotFound
        ? "file does not exist"
        : err instanceof Error
        ? err.message
        : String(err);
      throw new ConfigError([{ path: "", message: reason }], file);
    }
    raw = await parseConfigText(text, file);
  }
  const merged: Record<string, unknown> = { ...raw };
  for (const [key, value] of Object.entries(options.overrides ?? {})) {
    if (value !== undefined) merged[key] = value;
  }
  const hostname = options.hostname ?? Deno.hostname();
  try {
    return parseConfig(merged, { hostname });
  } catch (err) {
    if (err instanceof ConfigError && file !== undefined) throw new ConfigError(err.issues, file);
    throw err;
  }
}

/**
 * Parses the text of a config file (YAML or JSON) into its top-level mapping; an empty
 * file is an empty mapping. Async because the YAML parser is loaded on first use.
 * @throws {ConfigError} on syntax errors (with line and column) or a non-mapping document
 */
export async function parseConfigText(
  text: string,
  file?: string,
): Promise<Record<string, unknown>> {
  if (/^[ \t\r\n]*$/.test(text)) return {}; // what the YAML parser makes of it, without loading it
  const json = readJsonDocument(text);
  const value = json !== null ? json.value : await parseYaml(text, file);
  if (value === null || value === undefined) return {};
  if (!isPlainObject(value)) {
    const got = Array.isArray(value) ? "a list" : JSON.stringify(value);
    throw new ConfigError(
      [{ path: "", message: `expected a mapping of keys to values, got ${got}` }],
      file,
    );
  }
  return value;
}

/** The value of a YAML document, loading `npm:yaml` (about 10 MiB resident) on first use. */
async function parseYaml(text: string, file: string | undefined): Promise<unknown> {
  const { parseDocument } = await import("yaml");
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => ({ path: "", message: yamlErrorText(text, e) })),
      file,
    );
  }
  return doc.toJS();
}
