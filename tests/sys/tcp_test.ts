// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/** TCP sockets on the epoll reactor, over loopback. */
import assert from "node:assert/strict";
import { type FdConn, isConnectionAcceptError } from "../../lib/sys/tcp.ts";
import { connectTcp, dialTcp } from "../../lib/sys/tcp_dial.ts";
import { FdListener } from "../../lib/sys/tcp_listener.ts";
import { SockaddrCache } from "../../lib/sys/sockaddr.ts";
import { openReactor } from "../_helpers/reactor.ts";

async function readText(conn: { read(p: Uint8Array): Promise<number | null> }): Promise<string> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(1024);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
  }
  return new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c])));
}

async function writeText(conn: { write(p: Uint8Array): Promise<number> }, s: string) {
  const b = new TextEncoder().encode(s);
  for (let w = 0; w < b.length;) w += await conn.write(b.subarray(w));
}

Deno.test("FdListener accepts, connectTcp dials, both half-close like Deno's sockets", async () => {
  await using r = openReactor();
  const listener = new FdListener(r, "127.0.0.1", 0);
  const accepted = Promise.withResolvers<FdConn>();
  const serving = listener.serve((c) => accepted.resolve(c), (err) => assert.fail(err));
  try {
    assert.ok(listener.addr.port > 0);
    const client = await connectTcp(r, "127.0.0.1", listener.addr.port, 2000).conn;
    const server = await accepted.promise;
    assert.equal(server.remoteAddr.hostname, "127.0.0.1");
    assert.ok(server.remoteAddr.port > 0);
    // The client sends and shuts its write side; the server still answers after the EOF.
    await writeText(client, "ping");
    await client.closeWrite();
    assert.equal(await readText(server), "ping");
    await writeText(server, "pong");
    await server.closeWrite();
    assert.equal(await readText(client), "pong");
    client.close();
    server.close();
    server.close(); // idempotent
    await assert.rejects(server.read(new Uint8Array(1)), Deno.errors.BadResource);
  } finally {
    listener.close();
    await serving;
  }
});

Deno.test("FdListener and a Deno client, FdConn and a Deno server interoperate", async () => {
  await using r = openReactor();
  const listener = new FdListener(r, "127.0.0.1", 0);
  const serving = listener.serve(async (c) => {
    await writeText(c, await readText(c));
    c.close();
  }, (err) => assert.fail(err));
  const server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const d = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    await writeText(d, "echo me");
    await d.closeWrite();
    assert.equal(await readText(d), "echo me");
    d.close();

    const dialled = connectTcp(r, "127.0.0.1", server.addr.port, 2000).conn;
    const peer = await server.accept();
    const conn = await dialled;
    await writeText(peer, "from deno");
    peer.close();
    assert.equal(await readText(conn), "from deno");
    conn.close();
  } finally {
    server.close();
    listener.close();
    await serving;
  }
});

Deno.test("FdConn.sendNow() sends the first len bytes; recvNow() reports counts, EAGAIN as -1", async () => {
  await using r = openReactor();
  const listener = new FdListener(r, "127.0.0.1", 0);
  const accepted = Promise.withResolvers<FdConn>();
  const serving = listener.serve((c) => accepted.resolve(c), (err) => assert.fail(err));
  try {
    const client = await connectTcp(r, "127.0.0.1", listener.addr.port, 2000).conn;
    const server = await accepted.promise;
    const buf = new TextEncoder().encode("hello, world");
    assert.equal(server.recvNow(new Uint8Array(64)), -1); // nothing queued yet
    assert.equal(client.sendNow(buf, 5), 5);
    assert.equal(client.sendNow(buf, 0), 0);
    assert.throws(() => client.sendNow(buf, buf.byteLength + 1), RangeError);
    assert.throws(() => client.sendNow(buf, -1), RangeError);
    await client.closeWrite();
    // Two buffer lengths in turn (recvNow() caches its length argument per length); the five
    // bytes arrive as one segment, so what read() leaves is there for recvNow() at once.
    const two = new Uint8Array(2);
    const more = new Uint8Array(64);
    assert.equal(await server.read(two), 2);
    assert.equal(server.recvNow(more), 3);
    assert.equal(
      new TextDecoder().decode(new Uint8Array([...two, ...more.subarray(0, 3)])),
      "hello",
    );
    assert.equal(await server.read(two), null);
    assert.equal(server.recvNow(new Uint8Array(8)), 0); // EOF
    client.close();
    server.close();
    assert.throws(() => server.recvNow(new Uint8Array(1)), Deno.errors.BadResource);
  } finally {
    listener.close();
    await serving;
  }
});

Deno.test("FdListener.serve() hands over connections queued before it, never from inside it", async () => {
  await using r = openReactor();
  const listener = new FdListener(r, "127.0.0.1", 0);
  // The kernel completes the handshake from the backlog: the connection waits in the queue.
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const handed: FdConn[] = [];
  const first = Promise.withResolvers<void>();
  const serving = listener.serve((c) => {
    handed.push(c);
    first.resolve();
  }, (err) => assert.fail(err));
  // The caller (the proxy) finishes its setup after serve() returns: nothing may come before.
  assert.equal(handed.length, 0);
  await first.promise;
  assert.equal(handed.length, 1);
  for (const c of handed) c.close();
  client.close();
  listener.close();
  await serving;
});

Deno.test("connectTcp() rejects with the Deno error class of the failure", async (t) => {
  await using r = openReactor();
  await t.step("refused", async () => {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = l.addr.port;
    l.close();
    await assert.rejects(
      connectTcp(r, "127.0.0.1", port, 2000).conn,
      (err: Error) =>
        err instanceof Deno.errors.ConnectionRefused && /Connection refused/.test(err.message),
    );
  });
  await t.step("cancelled", async () => {
    // A listener that never accepts still completes handshakes, so cancel before the event
    // loop turns: the dial is still pending then.
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const d = connectTcp(r, "127.0.0.1", l.addr.port, 2000);
      d.cancel();
      await d.conn.then((c) => {
        // The kernel completed the connect synchronously: nothing was left to cancel.
        c.close();
      }, (err) => assert.ok(err instanceof Deno.errors.Interrupted, String(err)));
    } finally {
      l.close();
    }
  });
  await t.step("not an IP address", () => {
    assert.throws(() => connectTcp(r, "example.com", 80, 2000), TypeError);
  });
});

Deno.test("dialTcp() reports once, by callback, with the socket or the error", async (t) => {
  await using r = openReactor();
  const names = new SockaddrCache();
  /** Dials; resolves with the reports made once the first has come (a second would show). */
  const dial = (port: number, cancel = false) => {
    const reports: [Error | null, FdConn | null][] = [];
    const first = Promise.withResolvers<void>();
    const stop = dialTcp(r, "127.0.0.1", port, 2000, names, (err, conn) => {
      reports.push([err, conn]);
      first.resolve();
    });
    if (cancel) {
      stop();
      stop(); // idempotent: still one report
    }
    return first.promise.then(() => reports);
  };
  await t.step("connected", async () => {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      for (let i = 0; i < 2; i++) { // the second dial uses the cached address
        const reports = await dial(l.addr.port);
        assert.equal(reports.length, 1);
        const [err, conn] = reports[0]!;
        assert.equal(err, null);
        assert.ok(conn !== null && !conn.closed);
        const server = await l.accept();
        await writeText(conn, "hi");
        const buf = new Uint8Array(2);
        assert.equal(await server.read(buf), 2);
        assert.equal(new TextDecoder().decode(buf), "hi");
        server.close();
        conn.close();
      }
    } finally {
      l.close();
    }
  });
  await t.step("refused", async () => {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    l.close();
    const reports = await dial(l.addr.port);
    assert.equal(reports.length, 1);
    assert.ok(reports[0]![0] instanceof Deno.errors.ConnectionRefused, String(reports[0]![0]));
    assert.equal(reports[0]![1], null);
  });
  await t.step("cancelled", async () => {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const reports = await dial(l.addr.port, true);
      assert.equal(reports.length, 1);
      const [err, conn] = reports[0]!;
      // The kernel may complete a loopback connect at once: nothing is left to cancel then.
      if (conn !== null) conn.close();
      else assert.ok(err instanceof Deno.errors.Interrupted, String(err));
    } finally {
      l.close();
    }
  });
  await t.step("not an IP address: thrown, no report", () => {
    let reported = false;
    assert.throws(
      () => dialTcp(r, "example.com", 80, 2000, names, () => reported = true),
      TypeError,
    );
    assert.equal(reported, false);
  });
});

Deno.test("FdListener reports bind failures as AddrInUse and AddrNotAvailable", async () => {
  await using r = openReactor();
  const first = new FdListener(r, "127.0.0.1", 0);
  try {
    assert.throws(() => new FdListener(r, "127.0.0.1", first.addr.port), Deno.errors.AddrInUse);
    // With SO_REUSEPORT on both, a second thread's socket shares the address.
    const a = new FdListener(r, "127.0.0.1", 0, true);
    const b = new FdListener(r, "127.0.0.1", a.addr.port, true);
    assert.equal(b.addr.port, a.addr.port);
    a.close();
    b.close();
    // 192.0.2.1 (TEST-NET-1, RFC 5737) is on no device here: nothing is sent.
    assert.throws(() => new FdListener(r, "192.0.2.1", 0), Deno.errors.AddrNotAvailable);
  } finally {
    first.close();
  }
});

Deno.test("FdConn.reset() ends the connection with RST where close() sends FIN", async (t) => {
  await using r = openReactor();
  const listener = new FdListener(r, "127.0.0.1", 0);
  const accepted: PromiseWithResolvers<FdConn>[] = [];
  let next = 0;
  const serving = listener.serve((c) => accepted[next++]!.resolve(c), (err) => assert.fail(err));
  const rows: {
    name: string;
    end: (c: FdConn) => void;
    /** What the client's read sees: "eof" or the error class name. */
    want: string;
  }[] = [
    { name: "close(): clean EOF", end: (c) => c.close(), want: "eof" },
    { name: "reset(): ECONNRESET", end: (c) => c.reset(), want: "ConnectionReset" },
    { name: "reset() after close(): still FIN", end: (c) => (c.close(), c.reset()), want: "eof" },
  ];
  try {
    for (const row of rows) {
      await t.step(row.name, async () => {
        accepted.push(Promise.withResolvers());
        const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
        try {
          const server = await accepted.at(-1)!.promise;
          row.end(server);
          assert.equal(server.closed, true);
          const seen = await client.read(new Uint8Array(8)).then(
            (n) => n === null ? "eof" : `${n} bytes`,
            (err: Error) => err.name,
          );
          assert.equal(seen, row.want);
        } finally {
          client.close();
        }
      });
    }
  } finally {
    listener.close();
    await serving;
  }
});

Deno.test("isConnectionAcceptError() tells a failed accept of one connection from a failure of the listener", async (t) => {
  const cases: [Error, boolean][] = [
    [new Deno.errors.NotConnected("Transport endpoint is not connected (os error 107)"), true],
    [new Deno.errors.ConnectionAborted("Connection aborted"), true],
    [new Deno.errors.ConnectionReset("Connection reset by peer"), true],
    [new Error("Too many open files (os error 24)"), false], // EMFILE: back off
    [new Deno.errors.BadResource("closed"), false], // the listener itself is closed
  ];
  for (const [err, one] of cases) {
    await t.step(`${err.name}: ${err.message} → ${one}`, () => {
      assert.equal(isConnectionAcceptError(err), one);
    });
  }
});
