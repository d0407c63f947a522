// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The reply to a `delete` over a real socket and registry: `ok` whether or not the object was
 * there (KubeEdge senders replay deletes), and `found` saying which; no other reply changes.
 */
import assert from "node:assert/strict";
import { buildMessage, ControlServer, formatResource } from "../../lib/control/mod.ts";
import { nullLogger } from "../../lib/log/mod.ts";
import { exchange } from "../_helpers/control_socket.ts";
import { insertOf, type KindObject, OBJECTS, withRealControl } from "../_helpers/real_control.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url);

/** One message line for `o` with `operation` and msg_id `id`. */
function line(operation: "insert" | "update" | "delete", o: KindObject, id: string): string {
  const resource = formatResource(o.namespace, o.type, o.name);
  const content = operation === "delete" ? null : o.content;
  return JSON.stringify(buildMessage({ operation, resource, content, msgId: id })) + "\n";
}

Deno.test("a delete's reply says whether the object was there, for every kind", async (t) => {
  for (const o of Object.values(OBJECTS)) {
    await t.step(`${o.type} ${o.namespace}/${o.name}`, async () => {
      await withRealControl(async ({ path, registry }) => {
        // Absent from the start, inserted, deleted, deleted again: one connection, pipelined.
        const replies = await exchange(
          path,
          line("delete", o, "before") + line("insert", o, "ins") + line("delete", o, "del") +
            line("delete", o, "again"),
        );
        assert.deepEqual(replies, [
          // A delete of an absent object changes nothing: unchanged too.
          { msg_id: "before", ok: true, found: false, unchanged: true },
          { msg_id: "ins", ok: true },
          { msg_id: "del", ok: true, found: true },
          { msg_id: "again", ok: true, found: false, unchanged: true },
        ]);
        // Separately, on a new connection: the answer comes from the durable state as well.
        await registry.apply(insertOf(o));
        assert.deepEqual(await exchange(path, line("delete", o, "d2")), [
          { msg_id: "d2", ok: true, found: true },
        ]);
      });
    });
  }
});

Deno.test("found names the exact record: a neighbour of another kind or name is not it", async (t) => {
  const rows: { name: string; present: KindObject[]; deleted: KindObject; found: boolean }[] = [
    {
      name: "endpoints of a service that has none",
      present: [OBJECTS.service],
      deleted: OBJECTS.endpoints,
      found: false,
    },
    {
      name: "a service whose endpoints remain",
      present: [OBJECTS.endpoints],
      deleted: OBJECTS.service,
      found: false,
    },
    {
      name: "an endpointslice by its service's name",
      present: [OBJECTS.service, OBJECTS.endpointslice],
      deleted: { ...OBJECTS.endpointslice, name: "web" },
      found: false,
    },
    {
      name: "a pod in another namespace",
      present: [OBJECTS.pod],
      deleted: { ...OBJECTS.pod, namespace: "other" },
      found: false,
    },
    {
      name: "a node whatever namespace the route gives",
      present: [OBJECTS.node],
      deleted: { ...OBJECTS.node, namespace: "kube-system" },
      found: true,
    },
    {
      name: "a service another proxy handles (no VIP, still in the registry)",
      present: [{
        ...OBJECTS.service,
        content: {
          metadata: {
            name: "web",
            namespace: "default",
            labels: { "service.kubernetes.io/service-proxy-name": "other" },
          },
          spec: { ports: [{ port: 80 }] },
        },
      }],
      deleted: OBJECTS.service,
      found: true,
    },
  ];
  for (const row of rows) {
    await t.step(row.name, async () => {
      await withRealControl(async ({ path, registry }) => {
        for (const o of row.present) await registry.apply(insertOf(o));
        assert.deepEqual(await exchange(path, line("delete", row.deleted, "x")), [
          { msg_id: "x", ok: true, found: row.found, ...(row.found ? {} : { unchanged: true }) },
        ]);
      });
    });
  }
});

Deno.test("the KubeEdge fixture: a delete after the servicelist removed it is ok, found false, unchanged", async () => {
  const text = await Deno.readTextFile(new URL("kubeedge-messages.ndjson", FIXTURES));
  const sent = text.split("\n").filter((l) => l.trim() !== "");
  await withRealControl(async ({ path }) => {
    const replies = await exchange(path, text);
    const id = (l: string) => JSON.parse(l).header.msg_id;
    // Line 10 (servicelist) replaced the set without default/legacy; line 11 deletes it.
    assert.deepEqual(replies, [
      ...sent.slice(0, -1).map((l) => ({ msg_id: id(l), ok: true })),
      { msg_id: id(sent.at(-1)!), ok: true, found: false, unchanged: true },
    ]);
  });
});

Deno.test("failed deletes and non-delete replies carry no found", async () => {
  await withRealControl(async ({ path }) => {
    const replies = await exchange(
      path,
      JSON.stringify(
        buildMessage({
          operation: "delete",
          resource: "namespace/servicelist/service",
          msgId: "list",
        }),
      ) + "\n" +
        JSON.stringify(
          buildMessage({ operation: "query", resource: "*/services/*", msgId: "q" }),
        ) + "\n" + line("update", OBJECTS.node, "up"),
    );
    assert.deepEqual(replies, [
      {
        msg_id: "list",
        ok: false,
        error:
          'Cannot apply "namespace/servicelist/service": operation delete is not supported for servicelist',
      },
      { msg_id: "q", ok: true, content: [] },
      { msg_id: "up", ok: true },
    ]);
  });
});

Deno.test("a target that cannot tell what a delete found gives the plain ok reply", async () => {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "cdl-" });
  const server = await ControlServer.listen({
    path: `${dir}/stub.sock`,
    target: {
      apply: () => Promise.resolve(),
      snapshot: () => ({ version: 0, services: new Map(), nodes: new Map(), vips: new Map() }),
    },
    status: () => ({ node: "n", counts: { services: 0, endpoints: 0, vips: 0, nodes: 0 } }),
    log: nullLogger,
  });
  try {
    assert.deepEqual(await exchange(server.path, line("delete", OBJECTS.service, "s")), [
      { msg_id: "s", ok: true },
    ]);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});
