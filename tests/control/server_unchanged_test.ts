// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The reply to a change that left the registry as it was carries `unchanged: true` (over a real
 * socket and registry); every other field stays, and a real change's reply does not have it.
 */
import assert from "node:assert/strict";
import { buildMessage } from "../../lib/control/mod.ts";
import { exchange } from "../_helpers/control_socket.ts";
import { withRealControl } from "../_helpers/real_control.ts";

function line(operation: "insert" | "update" | "delete", port: number, id: string): string {
  const content = operation === "delete"
    ? null
    : { metadata: { name: "web", namespace: "default" }, spec: { ports: [{ port }] } };
  const resource = "default/service/web";
  return JSON.stringify(buildMessage({ operation, resource, content, msgId: id })) + "\n";
}

Deno.test("a change that leaves the registry as it was is answered ok with unchanged: true", async () => {
  await withRealControl(async ({ path, registry }) => {
    // Pipelined on one connection: the re-sends are compared with the changes before them.
    const replies = await exchange(
      path,
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
  });
});
