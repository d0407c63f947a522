// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The reply to a change that left the registry as it was carries `unchanged: true` (over a real
 * socket and registry); every other field stays, and a real change's reply does not have it.
 */
import assert from "node:assert/strict";
import { buildMessage, ControlServer } from "../../lib/control/mod.ts";
import { nullLogger } from "../../lib/log/mod.ts";
import { Registry } from "../../lib/registry/mod.ts";
import { exchange } from "../_helpers/control_socket.ts";

function line(operation: "insert" | "update" | "delete", port: number, id: string): string {
  const content = operation === "delete"
    ? null
    : { metadata: { name: "web", namespace: "default" }, spec: { ports: [{ port }] } };
  const resource = "default/service/web";
  return JSON.stringify(buildMessage({ operation, resource, content, msgId: id })) + "\n";
}

Deno.test("a change that leaves the registry as it was is answered ok with unchanged: true", async () => {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "nqa-ctl-" });
  const registry = await Registry.open({
    stateDir: `${dir}/state`,
    subnet: "9.251.0.0/16",
    log: nullLogger,
  });
  const server = await ControlServer.listen({
    path: `${dir}/run/edgemesh.sock`,
    target: registry,
    status: () => ({ node: "n", counts: { services: 0, endpoints: 0, vips: 0, nodes: 0 } }),
    log: nullLogger,
  });
  try {
    // Pipelined on one connection: the re-sends are compared with the changes before them.
    const replies = await exchange(
      server.path,
      line("insert", 80, "a") + line("update", 80, "b") + line("update", 81, "c") +
        line("insert", 81, "d") + line("delete", 0, "e") + line("delete", 0, "f"),
    );
    assert.deepEqual(replies, [
      { msg_id: "a", ok: true },
      { msg_id: "b", ok: true, unchanged: true },
      { msg_id: "c", ok: true },
      { msg_id: "d", ok: true, unchanged: true },
      { msg_id: "e", ok: true, found: true },
      { msg_id: "f", ok: true, found: false, unchanged: true },
    ]);
    assert.equal(registry.snapshot().version, 3, "insert, update to 81, delete");
  } finally {
    await server.close();
    await registry.close();
    await Deno.remove(dir, { recursive: true });
  }
});
