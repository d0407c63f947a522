// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Pure reading of Kubernetes manifests for `ctl apply`: JSON or YAML, a single object, a
 * `List`, or multi-document YAML, turned into control-socket changes (`<ns>/<type>/<name>`).
 *
 * A JSON manifest is read with `JSON.parse` (see `../config/json_document.ts`); `npm:yaml` is
 * imported only for YAML, so loading the CLI (which `edgemesh run` does too) does not load it.
 * @module
 */
import type { ResourceType } from "../control/mod.ts";
import { readJsonDocument } from "../config/json_document.ts";
import { yamlErrorText } from "../config/yaml_error.ts";
import { apiVersionProblem, isObjectKind, type ObjectKind } from "../registry/kinds.ts";
import { describe } from "../registry/problems.ts";

/**
 * Kubernetes kinds `ctl apply` accepts and the message type each becomes. Their `apiVersion`,
 * when given, must be the one the agent accepts (`API_VERSIONS` in `lib/registry/kinds.ts`:
 * `v1`, `discovery.k8s.io/v1` for EndpointSlice), checked here with the agent's own rule.
 */
export const KIND_TYPES: Readonly<Record<ObjectKind, ResourceType>> = {
  Service: "service",
  Endpoints: "endpoints",
  EndpointSlice: "endpointslice",
  Pod: "pod",
  Node: "node",
};

/** One object ready to send. */
export interface ManifestObject {
  readonly type: ResourceType;
  /** "default" for cluster-scoped nodes (the namespace KubeEdge routes them under). */
  readonly namespace: string;
  readonly name: string;
  /** The object, with `metadata.namespace` filled in when it was omitted. */
  readonly content: Record<string, unknown>;
  /** `service/default/nginx`, `node/edge-1`: how the object is named in output lines. */
  readonly label: string;
}

/**
 * An object and where it is in its text (`document 3`, `document 2 item 1`; just `document`, or
 * `document item 1`, when the text has one document), or why a document could not become one.
 */
export type ManifestItem =
  | { readonly ok: true; readonly object: ManifestObject; readonly where: string }
  | { readonly ok: false; readonly label: string; readonly error: string };

/**
 * Manifest text that cannot be parsed: `Cannot parse manifest: line 5, column 1: …`.
 * `document` is the 1-based document of a multi-document YAML stream the error is in, null for
 * a single document.
 */
export class ManifestSyntaxError extends SyntaxError {
  readonly document: number | null;
  constructor(message: string, document: number | null = null) {
    super(message);
    this.document = document;
  }
}

/** Label of an object in output lines (`service/default/nginx`, `node/edge-1`). */
export function objectLabel(type: ResourceType, namespace: string, name: string): string {
  return type === "node" ? `node/${name}` : `${type}/${namespace}/${name}`;
}

/**
 * Parses manifest text into objects. Problems with single objects become failed items (the
 * rest are still applied); only unparseable text throws. Async because the YAML parser is
 * loaded on first use.
 * @throws {ManifestSyntaxError} on YAML/JSON syntax errors, with line and column (and the
 *   document, in a multi-document stream)
 */
export async function parseManifests(
  text: string,
  defaultNamespace = "default",
): Promise<ManifestItem[]> {
  const json = readJsonDocument(text);
  if (isControlMessage(json?.value) || (json === null && firstLineIsControlMessage(text))) {
    throw new ManifestSyntaxError(
      "Cannot parse manifest: this is control-socket messages (KubeEdge, one per line), not " +
        "Kubernetes objects: write the file to the agent's socket as it is (e.g. " +
        "socat - UNIX-CONNECT:/run/edgemesh/edgemesh.sock < FILE), or apply the objects in " +
        'their "content"',
    );
  }
  const list = json !== null ? [json.value] : await parseYamlDocuments(text);
  const out: ManifestItem[] = [];
  list.forEach((value, i) => {
    if (value === null || value === undefined) return;
    const where = list.length > 1 ? `document ${i + 1}` : "document";
    if (isObject(value) && value.kind === "List") {
      const problem = apiVersionError(
        value.apiVersion,
        (v) => v === "v1" ? null : `${describe(v)} is not v1 (the apiVersion of List)`,
      );
      if (problem !== null) {
        out.push({ ok: false, label: `${where} (List)`, error: problem });
        return;
      }
      if (!Array.isArray(value.items)) {
        out.push({ ok: false, label: where, error: "List has no items array" });
        return;
      }
      // `document 2 item 1`; in a file that is one List, just `item 1`.
      const of = list.length > 1 ? `${where} ` : "";
      value.items.forEach((item, j) =>
        out.push(toItem(item, `${of}item ${j + 1}`, defaultNamespace))
      );
      return;
    }
    out.push(toItem(value, where, defaultNamespace));
  });
  return out;
}

/** A KubeEdge message (`{header?, route: {…}, content?}`) rather than a Kubernetes object. */
function isControlMessage(v: unknown): boolean {
  return isObject(v) && isObject(v.route) && !("kind" in v) && !("apiVersion" in v);
}

/** Whether the first non-blank line alone is a JSON control message (an NDJSON file of them). */
function firstLineIsControlMessage(text: string): boolean {
  const line = text.split("\n").find((l) => l.trim() !== "");
  if (line === undefined || !line.trimStart().startsWith("{")) return false;
  try {
    return isControlMessage(JSON.parse(line));
  } catch {
    return false;
  }
}

/** The values of the documents of a YAML stream, loading `npm:yaml` on first use. */
async function parseYamlDocuments(text: string): Promise<unknown[]> {
  const { parseAllDocuments } = await import("yaml");
  const docs = parseAllDocuments(text, { prettyErrors: false, uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [docs];
  return list.map((doc, i) => {
    const err = doc.errors[0];
    if (err) {
      throw new ManifestSyntaxError(
        `Cannot parse manifest: ${yamlErrorText(text, err)}`,
        list.length > 1 ? i + 1 : null,
      );
    }
    return doc.toJS() as unknown;
  });
}

function toItem(value: unknown, where: string, defaultNamespace: string): ManifestItem {
  if (!isObject(value)) return { ok: false, label: where, error: "not an object" };
  const kind = value.kind;
  if (typeof kind !== "string") return { ok: false, label: where, error: "kind is missing" };
  if (!isObjectKind(kind)) {
    return {
      ok: false,
      label: where,
      error: `kind ${JSON.stringify(kind)} is not supported (${
        Object.keys(KIND_TYPES).join(", ")
      })`,
    };
  }
  const type = KIND_TYPES[kind];
  const meta = isObject(value.metadata) ? value.metadata : {};
  const name = meta.name;
  const named = typeof name === "string" && name !== "";
  const problem = apiVersionError(value.apiVersion, (v) => apiVersionProblem(kind, v));
  if (problem !== null) {
    // The object, when its name is known: `document 5: service/default/web`.
    const ns = typeof meta.namespace === "string" && meta.namespace !== ""
      ? meta.namespace
      : defaultNamespace;
    const object = named ? objectLabel(type, type === "node" ? "" : ns, name) : null;
    const label = object === null
      ? `${where} (${kind})`
      : where === "document"
      ? object
      : `${where}: ${object}`;
    return { ok: false, label, error: problem };
  }
  if (!named) {
    return { ok: false, label: `${where} (${kind})`, error: "metadata.name is missing" };
  }
  if (type === "node") {
    return {
      ok: true,
      object: {
        type,
        namespace: "default",
        name,
        content: value,
        label: objectLabel(type, "", name),
      },
      where,
    };
  }
  const ns = typeof meta.namespace === "string" && meta.namespace !== ""
    ? meta.namespace
    : defaultNamespace;
  const content = { ...value, metadata: { ...meta, namespace: ns } };
  return {
    ok: true,
    object: { type, namespace: ns, name, content, label: objectLabel(type, ns, name) },
    where,
  };
}

/**
 * The error for an `apiVersion` that `check` refuses, or null; absent (or `""`) is accepted,
 * as the agent accepts it.
 */
function apiVersionError(v: unknown, check: (v: string) => string | null): string | null {
  if (v === undefined || v === null || v === "") return null;
  const problem = typeof v === "string" ? check(v) : `is not a string (got ${describe(v)})`;
  return problem === null ? null : `apiVersion ${problem}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
