// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * `tcpBackendDial()`, the tunnel server's dial of a local endpoint: the connection has
 * `TCP_NODELAY` (read through FFI, not inferred from timings), which `Deno.connect` alone
 * leaves off, and `reset()` ends it with RST, where a `Deno.TcpConn` can only send FIN.
 */
import assert from "node:assert/strict";
import { tcpNoDelay, tcpSockets } from "../../lib/sys/nodelay.ts";
import { libc } from "../../lib/sys/libc.ts";
import { disconnectTcp, findTcpConnections, TcpConnResets } from "../../lib/sys/tcp_reset.ts";
import { ResettableTcpConn, tcpBackendDial } from "../../lib/tunnel/tcp.ts";

const dialEndpoint = tcpBackendDial();

/** TCP_NODELAY of this process's connection from local port `port` to `peerPort`. */
function noDelayOf(port: number, peerPort: number): boolean | null {
  for (const s of tcpSockets()) {
    if (!s.listening && s.port === port && s.peerPort === peerPort) return tcpNoDelay(s.fd);
  }
  return null;
}

Deno.test("tcpBackendDial() connects with TCP_NODELAY on; Deno.connect alone leaves it off", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  try {
    // Deno 2.9.6's behaviour, the reason for the call: should this fail after a Deno upgrade
    // (true), Deno.connect sets it itself and tcpBackendDial's call may go.
    const plain = await Deno.connect({ hostname: "127.0.0.1", port });
    const plainAccepted = await listener.accept();
    try {
      assert.equal(noDelayOf(plain.localAddr.port, port), false, "Deno.connect leaves Nagle on");
    } finally {
      plain.close();
      plainAccepted.close();
    }

    const conn = await dialEndpoint({ ip: "127.0.0.1", port, nodeName: "b" }, {
      timeoutMs: 5000,
    });
    const accepted = await listener.accept();
    try {
      const local = (conn as ResettableTcpConn).conn.localAddr.port;
      assert.equal(noDelayOf(local, port), true);
      // And the connection carries bytes.
      await conn.write(new TextEncoder().encode("x"));
      const buf = new Uint8Array(1);
      assert.equal(await accepted.read(buf), 1);
      assert.equal(buf[0], "x".charCodeAt(0));
    } finally {
      conn.close();
      accepted.close();
    }
  } finally {
    listener.close();
  }
});

Deno.test("tcpBackendDial() rejects with the connect error when nothing listens", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  await assert.rejects(
    dialEndpoint({ ip: "127.0.0.1", port, nodeName: "b" }, { timeoutMs: 5000 }),
    Deno.errors.ConnectionRefused,
  );
});

/** How the accepted end of a connection sees it end: "eof" or the error's class name. */
async function endSeenBy(accepted: Deno.Conn): Promise<string> {
  try {
    while (await accepted.read(new Uint8Array(64)) !== null) { /* drain */ }
    return "eof";
  } catch (err) {
    return (err as Error).name;
  } finally {
    accepted.close();
  }
}

Deno.test("tcpBackendDial()'s connections end with RST on reset(), with FIN on close(); the resets of one task take one pass", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const endpoint = { ip: "127.0.0.1", port: listener.addr.port, nodeName: "b" };
  const resets = new TcpConnResets();
  const dial = tcpBackendDial(resets);
  try {
    const conns = [];
    const ends = [];
    for (let i = 0; i < 4; i++) {
      conns.push(await dial(endpoint, { timeoutMs: 5000 }));
      ends.push(endSeenBy(await listener.accept()));
    }
    // Three resets in the same task, and a close.
    conns[0]!.reset!();
    conns[1]!.reset!();
    conns[2]!.reset!();
    conns[3]!.close();
    // Both are idempotent and a reset after the close does nothing.
    conns[0]!.reset!();
    conns[0]!.close();
    conns[3]!.reset!();
    assert.deepEqual(await Promise.all(ends), [
      "ConnectionReset",
      "ConnectionReset",
      "ConnectionReset",
      "eof",
    ]);
    assert.equal(resets.passes, 1);
  } finally {
    listener.close();
  }
});

Deno.test("tcpBackendDial()'s reset() without the C library closes with FIN, as a Deno.TcpConn does", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const conn = await tcpBackendDial(new TcpConnResets(null))(
      { ip: "127.0.0.1", port: listener.addr.port, nodeName: "b" },
      { timeoutMs: 5000 },
    );
    const end = endSeenBy(await listener.accept());
    conn.reset!();
    assert.equal(await end, "eof");
  } finally {
    listener.close();
  }
});

Deno.test("tcpBackendDial()'s reset() of a connection whose endpoint reset it first only closes it: no pass", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const resets = new TcpConnResets();
  try {
    const conn = await tcpBackendDial(resets)(
      { ip: "127.0.0.1", port: listener.addr.port, nodeName: "b" },
      { timeoutMs: 5000 },
    );
    const accepted = await listener.accept();
    // The endpoint resets: the dialled side's read fails.
    const twin = findTcpConnections(
      [{ local: accepted.localAddr as Deno.NetAddr, remote: accepted.remoteAddr as Deno.NetAddr }],
      libc()!,
    )[0]!;
    disconnectTcp(twin, libc()!);
    accepted.close();
    await assert.rejects(conn.read(new Uint8Array(8)), Deno.errors.ConnectionReset);
    conn.reset!();
    await Promise.resolve(); // a pass would run in a microtask of this task
    assert.equal(resets.passes, 0);
  } finally {
    listener.close();
  }
});
