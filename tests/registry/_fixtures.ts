// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Setup shared by the registry tests: a temporary state directory removed afterwards, a
 * {@linkcode Registry} opened on it with the default subnet, the KubeEdge message fixture as
 * changes, and a Service change and a snapshot summary to assert on.
 * @module
 */
import { nullLogger } from "../../lib/log/mod.ts";
import {
  listServices,
  Registry,
  type RegistryOptions,
  type ResourceChange,
  type Snapshot,
} from "../../lib/registry/mod.ts";

/** Runs `fn` with a fresh temporary directory (named `<prefix>…`), always removed afterwards. */
export async function withDir(
  prefix: string,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Opens a registry with its state in `<dir>/state`, subnet 9.251.0.0/16 and `extra` on top. */
export function open(dir: string, extra: Partial<RegistryOptions> = {}): Promise<Registry> {
  return Registry.open({
    stateDir: `${dir}/state`,
    subnet: "9.251.0.0/16",
    log: nullLogger,
    ...extra,
  });
}

const FIXTURE = new URL("../fixtures/kubeedge-messages.ndjson", import.meta.url);

/** Splits a fixture line into a change (the envelope parser belongs to lib/control). */
function lineToChange(line: string): ResourceChange {
  const m = JSON.parse(line);
  const [namespace, type, name] = m.route.resource.split("/");
  return { operation: m.route.operation, namespace, type, name, content: m.content };
}

/** The changes of `tests/fixtures/kubeedge-messages.ndjson`, one per line. */
export async function fixtureChanges(): Promise<ResourceChange[]> {
  return (await Deno.readTextFile(FIXTURE)).trim().split("\n").map(lineToChange);
}

/** An insert of Service `ns/name` with `spec` (one port 80 by default) and `labels`. */
export function svc(
  ns: string,
  name: string,
  spec: Record<string, unknown> = { ports: [{ port: 80 }] },
  labels?: Record<string, string>,
): ResourceChange {
  return {
    operation: "insert",
    namespace: ns,
    type: "service",
    name,
    content: { metadata: { name, namespace: ns, ...(labels ? { labels } : {}) }, spec },
  };
}

/** Each service as `<vip> <endpointSource> <endpoint ips>` (not-ready ones marked), by key. */
export function summary(s: Snapshot): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of listServices(s)) {
    out[`${e.service.namespace}/${e.service.name}`] = `${e.vip} ${e.endpointSource} ${
      e.endpoints.map((ep) => `${ep.ip}${ep.ready ? "" : "(not ready)"}`).join(",")
    }`.trim();
  }
  return out;
}
