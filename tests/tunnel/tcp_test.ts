// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * `tcpDialBackend`, the tunnel server's dial of a local endpoint: the connection has
 * `TCP_NODELAY` (read through FFI, not inferred from timings), which `Deno.connect` alone
 * leaves off.
 */
import assert from "node:assert/strict";
import { tcpNoDelay, tcpSockets } from "../../lib/sys/nodelay.ts";
import { tcpDialBackend } from "../../lib/tunnel/tcp.ts";

/** TCP_NODELAY of this process's connection from local port `port` to `peerPort`. */
function noDelayOf(port: number, peerPort: number): boolean | null {
  for (const s of tcpSockets()) {
    if (!s.listening && s.port === port && s.peerPort === peerPort) return tcpNoDelay(s.fd);
  }
  return null;
}

Deno.test("tcpDialBackend() connects with TCP_NODELAY on; Deno.connect alone leaves it off", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  try {
    // Deno 2.9.6's behaviour, the reason for the call: should this fail after a Deno upgrade
    // (true), Deno.connect sets it itself and tcpDialBackend's call may go.
    const plain = await Deno.connect({ hostname: "127.0.0.1", port });
    const plainAccepted = await listener.accept();
    try {
      assert.equal(noDelayOf(plain.localAddr.port, port), false, "Deno.connect leaves Nagle on");
    } finally {
      plain.close();
      plainAccepted.close();
    }

    const conn = await tcpDialBackend({ ip: "127.0.0.1", port, nodeName: "b" }, {
      timeoutMs: 5000,
    });
    const accepted = await listener.accept();
    try {
      const local = (conn as Deno.TcpConn).localAddr.port;
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

Deno.test("tcpDialBackend() rejects with the connect error when nothing listens", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  await assert.rejects(
    tcpDialBackend({ ip: "127.0.0.1", port, nodeName: "b" }, { timeoutMs: 5000 }),
    Deno.errors.ConnectionRefused,
  );
});
