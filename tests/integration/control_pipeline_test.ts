// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/** Pipelining: many messages in flight on one connection, replies in order, group commit. */
import assert from "node:assert/strict";
import { buildMessage, ControlClient, ControlServer } from "../../lib/control/mod.ts";
import { nullLogger } from "../../lib/log/mod.ts";
import { Registry } from "../../lib/registry/mod.ts";

Deno.test("ControlServer applies 1000 pipelined services with ordered replies and batched writes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "em-ctl-pipe-" });
  const registry = await Registry.open({
    stateDir: `${dir}/state`,
    subnet: "9.251.0.0/16",
    log: nullLogger,
  });
  const server = await ControlServer.listen({
    path: `${dir}/edgemesh.sock`,
    target: registry,
    status: () => ({ node: "n", counts: { services: 0, endpoints: 0, vips: 0, nodes: 0 } }),
    log: nullLogger,
    maxInFlight: 256, // exercise the back-pressure path too
  });
  try {
    const client = await ControlClient.connect(server.path);
    const replies = Array.from({ length: 1000 }, (_, i) =>
      client.send(buildMessage({
        operation: "insert",
        resource: `default/service/svc-${i}`,
        msgId: `m-${i}`,
        content: {
          metadata: { name: `svc-${i}`, namespace: "default" },
          spec: { ports: [{ port: 80, targetPort: 8080 }] },
        },
      })));
    const got = await Promise.all(replies);
    assert.deepEqual(got.map((r) => r.msg_id), Array.from({ length: 1000 }, (_, i) => `m-${i}`));
    assert.ok(got.every((r) => r.ok));
    const list = await client.send(
      buildMessage({ operation: "query", resource: "default/services/*" }),
    );
    await client.close();
    const vips = (list.content as { vip: string }[]).map((v) => v.vip);
    assert.equal(vips.length, 1000);
    assert.equal(new Set(vips).size, 1000);
    assert.ok(
      registry.writeCount < 1000,
      `expected group commits, got ${registry.writeCount} writes`,
    );
  } finally {
    await server.close();
    await registry.close();
    await Deno.remove(dir, { recursive: true });
  }
});
