// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { memoryLogger } from "../../lib/log/mod.ts";
import { HttpFront } from "../../lib/sys/mod.ts";
import { EMULATED } from "../_helpers/emulation.ts";
import { resetFlood } from "../_helpers/reset_flood.ts";
import { pollUntil } from "../_helpers/poll.ts";

/** A front on a random loopback port before `port`: 4 connections, no idle timeout. */
function frontOf(port: number): HttpFront {
  return new HttpFront({
    hostname: "127.0.0.1",
    port: 0,
    upstream: { hostname: "127.0.0.1", port },
    maxConnections: 4,
    establishTimeoutMs: 60_000,
    establishedBy: "caller",
    idleTimeoutMs: 0,
    name: "test",
    log: memoryLogger(),
  });
}
Deno.test("HttpFront.peerOf() maps the port the server behind sees to the client's address while the connection is open", async () => {
  const inner = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const front = frontOf(inner.addr.port);
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

Deno.test("HttpFront.setUpstream(): new connections go to the new server (open ones stay), none while it is null", async () => {
  const first = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const second = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const front = frontOf(first.addr.port);
  const open: Deno.Conn[] = [];
  const buf = new Uint8Array(16);
  try {
    const a = await Deno.connect({ hostname: "127.0.0.1", port: front.addr.port });
    open.push(a);
    const aBehind = await first.accept();
    open.push(aBehind);

    front.setUpstream(null);
    const refused = await Deno.connect({ hostname: "127.0.0.1", port: front.addr.port });
    open.push(refused);
    assert.equal(await refused.read(buf), null, "closed at once: no server behind");

    front.setUpstream({ hostname: "127.0.0.1", port: second.addr.port });
    assert.deepEqual(front.upstream, { hostname: "127.0.0.1", port: second.addr.port });
    const b = await Deno.connect({ hostname: "127.0.0.1", port: front.addr.port });
    open.push(b);
    const bBehind = await second.accept();
    open.push(bBehind);
    await b.write(new TextEncoder().encode("b"));
    assert.equal(await bBehind.read(buf), 1);
    // The old connection still reaches the old server, and each server finds its own peers.
    await a.write(new TextEncoder().encode("aa"));
    assert.equal(await aBehind.read(buf), 2);
    const peerA = front.peerOf(aBehind.remoteAddr.port, first.addr.port);
    const peerB = front.peerOf(bBehind.remoteAddr.port);
    assert.equal(peerA?.remoteAddr.port, a.localAddr.port);
    assert.equal(peerB?.remoteAddr.port, b.localAddr.port);
    assert.equal(front.peerOf(aBehind.remoteAddr.port, second.addr.port), null);
    // What the tunnel waits for before it stops a replaced server: no connection to it.
    assert.equal(front.connectionsTo(first.addr.port), 1);
    assert.equal(front.connectionsTo(second.addr.port), 1);
    for (const c of [a, aBehind]) {
      c.close();
      open.splice(open.indexOf(c), 1);
    }
    await pollUntil(
      () => front.connectionsTo(first.addr.port) === 0,
      () => "the old server's last connection to end",
    );
    assert.equal(front.connectionsTo(second.addr.port), 1);
  } finally {
    for (const c of open) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    front.close();
    await front.finished;
    first.close();
    second.close();
  }
});

// Natively only: the flood needs the resets to race the accepts, which emulation slows.
Deno.test({
  name: "HttpFront takes a client that reset before its accept as gone: no back-off, no warning",
  ignore: EMULATED,
}, async () => {
  const inner = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const log = memoryLogger();
  const front = new HttpFront({
    hostname: "127.0.0.1",
    port: 0,
    upstream: { hostname: "127.0.0.1", port: inner.addr.port },
    maxConnections: 4,
    establishTimeoutMs: 60_000,
    establishedBy: "caller",
    idleTimeoutMs: 0,
    name: "test",
    log,
  });
  const open: Deno.Conn[] = [];
  try {
    await resetFlood("127.0.0.1", front.addr.port);
    const client = await Deno.connect({ hostname: "127.0.0.1", port: front.addr.port });
    open.push(client);
    await client.write(new TextEncoder().encode("x"));
    // The server behind gets the flood's connections the front accepted in time (each ends at
    // once), then ours.
    const buf = new Uint8Array(4);
    for (;;) {
      const behind = await inner.accept();
      open.push(behind);
      const n = await behind.read(buf).catch(() => null);
      if (n === 1) break;
    }
    assert.deepEqual(log.lines.filter((l) => l.includes("Cannot accept")), []);
  } finally {
    for (const c of open) c.close();
    front.close();
    await front.finished;
    inner.close();
  }
});
