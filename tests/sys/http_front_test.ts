// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { memoryLogger } from "../../lib/log/mod.ts";
import { HttpFront } from "../../lib/sys/mod.ts";
import { pollUntil } from "../_helpers/poll.ts";

Deno.test("HttpFront.peerOf() maps the port the server behind sees to the client's address while the connection is open", async () => {
  const inner = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const front = new HttpFront({
    hostname: "127.0.0.1",
    port: 0,
    upstream: { hostname: "127.0.0.1", port: inner.addr.port },
    maxConnections: 4,
    establishTimeoutMs: 60_000,
    establishedBy: "caller",
    idleTimeoutMs: 0,
    name: "test",
    log: memoryLogger(),
  });
  const client = await Deno.connect({ hostname: "127.0.0.1", port: front.addr.port });
  const behind = await inner.accept();
  try {
    await client.write(new TextEncoder().encode("hello"));
    const buf = new Uint8Array(16);
    assert.equal(await behind.read(buf), 5);
    // The server behind has the first byte: the mapping is there, with the client's port.
    const peer = front.peerOf(behind.remoteAddr.port);
    assert.ok(peer !== null);
    assert.deepEqual(
      { hostname: peer.remoteAddr.hostname, port: peer.remoteAddr.port },
      { hostname: "127.0.0.1", port: client.localAddr.port },
    );
    assert.equal(front.peerOf(client.localAddr.port), null);
    assert.equal(front.open, 1);
    client.close();
    behind.close();
    await pollUntil(() => front.open === 0, () => "the link ended");
    assert.equal(front.peerOf(behind.remoteAddr.port), null);
  } finally {
    try {
      client.close();
    } catch { /* closed */ }
    try {
      behind.close();
    } catch { /* closed */ }
    front.close();
    await front.finished;
    inner.close();
  }
});
