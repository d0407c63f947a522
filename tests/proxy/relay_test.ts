// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/** relay(): the promise-free copy between two epoll sockets, over loopback. */
import assert from "node:assert/strict";
import { relay } from "../../lib/proxy/relay.ts";
import { Reactor } from "../../lib/sys/reactor.ts";
import { connectTcp, type FdConn, FdListener } from "../../lib/sys/tcp.ts";
import { openReactor } from "../_helpers/reactor.ts";

/**
 * A relay between `client ⇄ [a ⇄ b] ⇄ server`: `a` accepted from `client`, `b` dialled to
 * `server` (Deno sockets at both ends, so the relay is the only epoll code in the path).
 */
async function relayed(r: Reactor, buffer: Uint8Array) {
  const listener = new FdListener(r, "127.0.0.1", 0);
  const accepted = Promise.withResolvers<FdConn>();
  const serving = listener.serve((c) => accepted.resolve(c), (err) => assert.fail(err));
  const backend = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const a = await accepted.promise;
  const dialled = connectTcp(r, "127.0.0.1", backend.addr.port, 2000).conn;
  const server = await backend.accept();
  const b = await dialled;
  listener.close();
  backend.close();
  await serving;
  return { client, server, a, b, done: relay(a, b, buffer) };
}

async function readAll(conn: Deno.Conn): Promise<Uint8Array<ArrayBuffer>> {
  const parts: Uint8Array[] = [];
  let total = 0;
  const buf = new Uint8Array(64 * 1024);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    parts.push(buf.slice(0, n));
    total += n;
  }
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  for (let w = 0; w < data.length;) w += await conn.write(data.subarray(w));
}

Deno.test("relay() passes half-close on, keeps the other direction, counts bytes", async () => {
  await using r = openReactor();
  const { client, server, done } = await relayed(r, new Uint8Array(1024));
  await writeAll(client, new TextEncoder().encode("request"));
  await client.closeWrite();
  assert.equal(new TextDecoder().decode(await readAll(server)), "request");
  await writeAll(server, new TextEncoder().encode("reply after the client's EOF"));
  await server.closeWrite();
  assert.equal(new TextDecoder().decode(await readAll(client)), "reply after the client's EOF");
  assert.deepEqual(await done, { bytesIn: 7, bytesOut: 28 });
  client.close();
  server.close();
});

/**
 * `size` bytes of a 251-byte cycle (a prime, so chunk boundaries never line up with it) built
 * with native copies: cheap even under emulation.
 */
function pattern(size: number, step: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  for (let i = 0; i < 251 && i < size; i++) out[i] = (i * step) & 0xff;
  for (let have = 251; have < size; have *= 2) out.copyWithin(have, 0, Math.min(have, size - have));
  return out;
}

/** SHA-256 of `data` as hex (a native comparison of megabytes). */
async function digest(data: Uint8Array<ArrayBuffer>): Promise<string> {
  const h = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return `${data.length}:${Array.from(h, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

Deno.test("relay() holds a direction back while the receiver is slow and loses nothing", async () => {
  await using r = openReactor();
  // A 4 KiB shared buffer and 8 MiB each way: sends hit EAGAIN and go through the pending path.
  const { client, server, done } = await relayed(r, new Uint8Array(4096));
  const up = pattern(8 << 20, 7);
  const down = pattern(8 << 20, 13);
  const sending = writeAll(client, up).then(() => client.closeWrite());
  // The server reads only after a pause, so the relay must stop reading from the client.
  await new Promise((res) => setTimeout(res, 50));
  const [got, back] = await Promise.all([
    readAll(server),
    readAll(client),
    sending,
    writeAll(server, down).then(() => server.closeWrite()),
  ]);
  assert.equal(await digest(got), await digest(up), "upload intact");
  assert.equal(await digest(back), await digest(down), "download intact");
  assert.deepEqual(await done, { bytesIn: up.length, bytesOut: down.length });
  client.close();
  server.close();
});

Deno.test("relay() closes both sides when one resets, or when its owner closes one", async (t) => {
  await using r = openReactor();
  await t.step("server resets", async () => {
    const { client, server, a, b, done } = await relayed(r, new Uint8Array(1024));
    await writeAll(client, new TextEncoder().encode("ab"));
    // Read one byte of two: closing with unread data makes the kernel send a reset.
    assert.equal(await server.read(new Uint8Array(1)), 1);
    server.close();
    await done;
    assert.ok(a.closed && b.closed);
    assert.equal((await readAll(client)).length, 0);
    client.close();
  });
  await t.step("owner closes the client side (drain, shutdown)", async () => {
    const { client, server, a, b, done } = await relayed(r, new Uint8Array(1024));
    a.close();
    const result = await done;
    assert.deepEqual(result, { bytesIn: 0, bytesOut: 0 });
    assert.ok(b.closed);
    assert.equal((await readAll(server)).length, 0);
    client.close();
    server.close();
  });
});

Deno.test("relay() acts on data and EOF that arrived before it started", async () => {
  await using r = openReactor();
  const listener = new FdListener(r, "127.0.0.1", 0);
  const accepted = Promise.withResolvers<FdConn>();
  const serving = listener.serve((c) => accepted.resolve(c), (err) => assert.fail(err));
  const backend = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    // The whole request and its EOF are queued before the relay exists.
    await writeAll(client, new TextEncoder().encode("early"));
    await client.closeWrite();
    const a = await accepted.promise;
    const dialled = connectTcp(r, "127.0.0.1", backend.addr.port, 2000).conn;
    const server = await backend.accept();
    const b = await dialled;
    // Let the edges of the queued data go by with nobody attached.
    await new Promise((res) => setTimeout(res, 20));
    const done = relay(a, b, new Uint8Array(1024));
    assert.equal(new TextDecoder().decode(await readAll(server)), "early");
    await server.closeWrite();
    assert.equal((await readAll(client)).length, 0);
    assert.deepEqual(await done, { bytesIn: 5, bytesOut: 0 });
    client.close();
    server.close();
  } finally {
    listener.close();
    backend.close();
    await serving;
  }
});
