// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/** relay(): the promise-free copy between two epoll sockets, over loopback. */
import assert from "node:assert/strict";
import { relay, RelayBuffer } from "../../lib/proxy/relay.ts";
import { EPOLLERR, EPOLLIN, Reactor } from "../../lib/sys/reactor.ts";
import type { ConnObserver, FdConn } from "../../lib/sys/tcp.ts";
import { connectTcp } from "../../lib/sys/tcp_dial.ts";
import { FdListener } from "../../lib/sys/tcp_listener.ts";
import { ending } from "../_helpers/proxy_fixtures.ts";
import { connectNow, openReactor } from "../_helpers/reactor.ts";

/**
 * A relay between `client ⇄ [a ⇄ b] ⇄ server`: `a` accepted from `client`, `b` dialled to
 * `server` (Deno sockets at both ends, so the relay is the only epoll code in the path).
 */
async function relayed(r: Reactor, buffer: RelayBuffer) {
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
  const { client, server, done } = await relayed(r, new RelayBuffer(1024, 512));
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
  const { client, server, done } = await relayed(r, new RelayBuffer(4096, 1024));
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

/**
 * {@linkcode relayed} with epoll sockets at both ends too (`connectNow`, `FdListener`), so the
 * test can reset either end (`FdConn.reset()`); a `Deno.TcpConn` can only close with FIN.
 */
async function relayedFd(r: Reactor, buffer: RelayBuffer) {
  const listener = new FdListener(r, "127.0.0.1", 0);
  const backend = new FdListener(r, "127.0.0.1", 0);
  const accepted = Promise.withResolvers<FdConn>();
  const reached = Promise.withResolvers<FdConn>();
  const serving = listener.serve((c) => accepted.resolve(c), (err) => assert.fail(err));
  const backendServing = backend.serve((c) => reached.resolve(c), (err) => assert.fail(err));
  const client = connectNow(r, "127.0.0.1", listener.addr.port);
  const a = await accepted.promise;
  const b = await connectTcp(r, "127.0.0.1", backend.addr.port, 2000).conn;
  const server = await reached.promise;
  listener.close();
  backend.close();
  await Promise.all([serving, backendServing]);
  return { client, server, a, b, done: relay(a, b, buffer) };
}

Deno.test("relay() resets the other side when one fails or its owner closes one", async (t) => {
  await using r = openReactor();
  type Relayed = Awaited<ReturnType<typeof relayedFd>>;
  const cases: readonly {
    name: string;
    cut: (x: Relayed) => void;
    /** The end that must see the reset. */
    sees: "client" | "server";
  }[] = [
    { name: "endpoint resets", cut: (x) => x.server.reset(), sees: "client" },
    { name: "client resets", cut: (x) => x.client.reset(), sees: "server" },
    {
      name: "owner closes the client side (drain, shutdown)",
      cut: (x) => x.a.close(),
      sees: "server",
    },
    { name: "owner closes the endpoint side", cut: (x) => x.b.close(), sees: "client" },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const x = await relayedFd(r, new RelayBuffer(1024, 512));
      c.cut(x);
      await x.done;
      assert.ok(x.a.closed && x.b.closed);
      assert.equal(await ending(c.sees === "client" ? x.client : x.server), "ConnectionReset");
      x.client.close();
      x.server.close();
    });
  }
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
    const done = relay(a, b, new RelayBuffer(1024, 512));
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

Deno.test("RelayBuffer rejects a shared read outside 1..size", () => {
  for (const [size, shared] of [[1024, 0], [1024, 2048], [1024, Number.NaN]] as const) {
    assert.throws(() => new RelayBuffer(size, shared), RangeError, `${size}, ${shared}`);
  }
  const rb = new RelayBuffer(1024, 256);
  assert.equal(rb.full.byteLength, 1024);
  assert.equal(rb.shared.byteLength, 256);
  assert.equal(rb.shared.buffer, rb.full.buffer);
});

/** A scripted socket for relay(): reads take from `incoming`, every write is taken whole. */
class ScriptedConn {
  closed = false;
  /** Whether it was closed with {@linkcode reset} (RST) rather than {@linkcode close}. */
  wasReset = false;
  /** Thrown by the next `recvNow()` (a failed `recv`: `ECONNRESET`, `ETIMEDOUT`). */
  failRecv: Error | null = null;
  /** The length of every buffer `recvNow()` was given. */
  readonly reads: number[] = [];
  sent = 0;
  #incoming = 0;
  #eof = false;
  #observer: ConnObserver | null = null;

  get conn(): FdConn {
    return this as unknown as FdConn;
  }
  attach(observer: ConnObserver): number {
    this.#observer = observer;
    return 0;
  }
  recvNow(p: Uint8Array): number {
    this.reads.push(p.byteLength);
    if (this.failRecv !== null) throw this.failRecv;
    if (this.#incoming === 0) return this.#eof ? 0 : -1;
    const n = Math.min(p.byteLength, this.#incoming);
    this.#incoming -= n;
    return n;
  }
  sendNow(p: Uint8Array, len = p.byteLength): number {
    this.sent += len;
    return len;
  }
  shutdownWrite(): void {}
  reset(): void {
    if (!this.closed) this.wasReset = true;
    this.close();
  }
  /** Reports `events` as the reactor would. */
  report(events: number): void {
    this.#observer!.onConnIo(this.conn, events);
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.#observer?.onConnClosed(this.conn);
  }
  /** Queues `bytes` (and the EOF with `eof`) and reports them as the reactor would. */
  feed(bytes: number, eof = false): void {
    this.#incoming += bytes;
    this.#eof ||= eof;
    this.reads.length = 0;
    this.#observer!.onConnIo(this.conn, EPOLLIN);
  }
}

Deno.test("relay() reads the whole buffer while no other relay of the thread moves bulk data", async () => {
  const K = 1024;
  const rb = new RelayBuffer(64 * K, 16 * K);
  const [a1, b1, a2, b2] = [0, 1, 2, 3].map(() => new ScriptedConn());
  const done1 = relay(a1!.conn, b1!.conn, rb);
  const done2 = relay(a2!.conn, b2!.conn, rb);

  // Alone: whole-buffer reads until a short one; its last read took ≥ 16 KiB, so it is bulk.
  a1!.feed(100 * K);
  assert.deepEqual(a1!.reads, [64 * K, 64 * K]);
  assert.equal(b1!.sent, 100 * K);
  assert.equal(rb.bulk, 1);

  // Another relay meanwhile: shared reads (16 + 16 + 8 KiB); it counts while its read was big.
  a2!.feed(40 * K);
  assert.deepEqual(a2!.reads, [16 * K, 16 * K, 16 * K]);
  assert.equal(b2!.sent, 40 * K);
  assert.equal(rb.bulk, 1, "the short last read took relay 2 out again");

  // Relay 1 finds its queue empty: no bulk left, so relay 2 reads the whole buffer again.
  a1!.feed(0);
  assert.equal(rb.bulk, 0);
  a2!.feed(20 * K);
  assert.deepEqual(a2!.reads, [64 * K]);
  assert.equal(rb.bulk, 1);

  // Ending relays take themselves out: relay 1 by EOF both ways, relay 2 by its owner's close.
  a1!.feed(0, true);
  b1!.feed(0, true);
  assert.deepEqual(await done1, { bytesIn: 100 * K, bytesOut: 0 });
  a2!.close();
  assert.deepEqual(await done2, { bytesIn: 60 * K, bytesOut: 0 });
  assert.equal(rb.bulk, 0);
});

Deno.test("relay() ends with FIN after EOF both ways and with RST on every abnormal end", async (t) => {
  const cases: readonly {
    name: string;
    end: (client: ScriptedConn, upstream: ScriptedConn) => void;
    /** Which of [client, upstream] were closed with RST. */
    want: readonly [boolean, boolean];
  }[] = [
    {
      name: "EOF both ways (half-close passed on)",
      end: (c, u) => {
        c.feed(5);
        c.feed(0, true);
        u.feed(7);
        u.feed(0, true);
      },
      want: [false, false],
    },
    {
      name: "EPOLLERR on the endpoint (reset)",
      end: (_, u) => u.report(EPOLLERR),
      want: [true, true],
    },
    { name: "EPOLLERR on the client", end: (c) => c.report(EPOLLERR), want: [true, true] },
    {
      name: "recv fails on the endpoint (ETIMEDOUT)",
      end: (_, u) => {
        u.failRecv = new Deno.errors.TimedOut("recv()");
        u.feed(1);
      },
      want: [true, true],
    },
    { name: "owner closes the client (drain expiry)", end: (c) => c.close(), want: [false, true] },
    { name: "owner closes the endpoint", end: (_, u) => u.close(), want: [true, false] },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const client = new ScriptedConn();
      const upstream = new ScriptedConn();
      const done = relay(client.conn, upstream.conn, new RelayBuffer(1024, 512));
      c.end(client, upstream);
      await done;
      assert.ok(client.closed && upstream.closed);
      assert.deepEqual([client.wasReset, upstream.wasReset], c.want);
    });
  }
});
