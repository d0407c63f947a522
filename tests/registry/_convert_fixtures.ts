// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Helpers shared by the conversion tests (`convert*_test.ts`): changes and objects to convert,
 * the fixture's lines, the explanations of the name rules in error messages, and a table
 * runner for refused contents.
 * @module
 */
import assert from "node:assert/strict";
import {
  convertChange,
  type ConvertedChange,
  type Endpoint,
  type ResourceChange,
  type Service,
  type ServiceEntry,
} from "../../lib/registry/mod.ts";

/** The explanations that follow each rule's name in error messages (`lib/registry/names.ts`). */
export const LABEL_1123 =
  "(lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters)";
export const IANA =
  "(lowercase letters, digits and '-', at least one letter, no '--', starting and ending with a letter or digit, at most 15 characters)";

/** A change of `resource` (`<ns>/<type>/<name>`) with `content`. */
export function change(
  resource: string,
  content: unknown,
  operation: ResourceChange["operation"] = "insert",
): ResourceChange {
  const [namespace, type, name] = resource.split("/") as [string, ResourceChange["type"], string];
  return { operation, namespace, type, name, content };
}

/** A Service object `default/<name>` with `spec` and `metadata` on top. */
export function svcContent(
  name: string,
  spec: Record<string, unknown>,
  metadata: Record<string, unknown> = {},
) {
  return { metadata: { name, namespace: "default", ...metadata }, spec };
}

/** The Service of a converted `service` change (fails the test when there is none). */
export function serviceOf(c: ConvertedChange): Service {
  assert.equal(c.type, "service");
  if (c.type !== "service" || !c.record) {
    throw new assert.AssertionError({ message: "no service record" });
  }
  return c.record.service;
}

/** A service entry of `service` with `endpoints` (for `backendsFor`). */
export function entry(service: Service, endpoints: readonly Endpoint[]): ServiceEntry {
  return { service, vip: "9.251.0.2", endpoints, endpointSource: "endpoints" };
}

/** The lines of `tests/fixtures/kubeedge-messages.ndjson`, parsed. */
export const fixture =
  (await Deno.readTextFile(new URL("../fixtures/kubeedge-messages.ndjson", import.meta.url)))
    .trim().split("\n").map((l) => JSON.parse(l));
/** The change of the fixture line for `resource`. */
export function fixtureChange(resource: string): ResourceChange {
  const m = fixture.find((x) => x.route.resource === resource);
  assert.ok(m, resource);
  return change(resource, m.content, m.route.operation);
}

export const LABEL_1035 =
  "(lowercase letters, digits and '-', starting with a letter, ending with a letter or digit, at most 63 characters)";
export const SUBDOMAIN =
  "(lowercase letters, digits, '-' and '.', each dot-separated part starting and ending with a letter or digit, at most 253 characters)";

/** A row of the validation tables: `content` sent as `resource` is refused with `message`. */
export interface BadRow {
  name: string;
  resource: string;
  content: unknown;
  error: ErrorConstructor;
  message: string;
}

/** Runs a step per row, asserting that converting its content throws its error and message. */
export async function refuses(t: Deno.TestContext, rows: BadRow[]): Promise<void> {
  for (const row of rows) {
    await t.step(row.name, () => {
      assert.throws(() => convertChange(change(row.resource, row.content)), (e: unknown) => {
        assert.ok(e instanceof row.error, `expected ${row.error.name}, got ${e}`);
        assert.equal((e as Error).message, `Cannot apply "${row.resource}": ${row.message}`);
        return true;
      });
    });
  }
}

/** A Service `name` in `namespace` (may be absent) with one port 80, `extra` on top. */
export function svcIn(
  namespace: string | undefined,
  name: string,
  extra: Record<string, unknown> = {},
) {
  return { ...extra, metadata: { name, namespace }, spec: { ports: [{ port: 80 }] } };
}

/** An IPv4 EndpointSlice `name` of `service` with one endpoint, `extra` on top. */
export const slice = (name: string, service: string, extra: Record<string, unknown> = {}) => ({
  metadata: { name, labels: { "kubernetes.io/service-name": service } },
  addressType: "IPv4",
  endpoints: [{ addresses: ["10.0.0.1"] }],
  ...extra,
});
