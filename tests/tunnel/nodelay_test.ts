// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * `TCP_NODELAY` on the connections the TLS tunnel server accepts. `Deno.serve` with TLS leaves
 * Nagle's algorithm on for them, and its answers (HEADERS, then DATA, each a TLS record) then
 * waited for the front's delayed ACK: 40 ms per sequential stream. Asserted on the socket option
 * (read through FFI), not on timings.
 */
import assert from "node:assert/strict";
import { nullLogger } from "../../lib/log/mod.ts";
import { setListenerNoDelay, tcpNoDelay, tcpSockets } from "../../lib/sys/nodelay.ts";
import { TunnelDialer, TunnelDialError, TunnelServer } from "../../lib/tunnel/mod.ts";
import { makeTestPki, servicePort, TEST_KEY } from "./_fixtures.ts";

/** TCP_NODELAY of the connection `Deno.serve` accepted from the client at local port `port`. */
function acceptedNoDelay(serverPort: number, clientPort: number): boolean | null {
  for (const s of tcpSockets()) {
    if (!s.listening && s.port === serverPort && s.peerPort === clientPort) {
      return tcpNoDelay(s.fd);
    }
  }
  return null;
}

Deno.test("Deno.serve with TLS accepts connections without TCP_NODELAY; setListenerNoDelay() turns it on for them", async () => {
  const pki = await makeTestPki();
  try {
    const connectAndCheck = async (setNoDelay: boolean) => {
      const server = Deno.serve({
        hostname: "127.0.0.1",
        port: 0,
        cert: pki.cert,
        key: pki.key,
        onListen: () => {},
      }, () => new Response("ok"));
      try {
        if (setNoDelay) assert.equal(setListenerNoDelay("127.0.0.1", server.addr.port), true);
        const conn = await Deno.connectTls({
          hostname: "127.0.0.1",
          port: server.addr.port,
          caCerts: [pki.ca],
        });
        try {
          await conn.handshake(); // the server has accepted the connection
          return acceptedNoDelay(server.addr.port, conn.localAddr.port);
        } finally {
          conn.close();
        }
      } finally {
        await server.shutdown();
      }
    };
    // Deno 2.9.6's behaviour, the reason for the workaround: should this fail after a Deno
    // upgrade (true), Deno.serve sets it itself and TunnelServer's call may go.
    assert.equal(await connectAndCheck(false), false, "Deno.serve (TLS) leaves Nagle on");
    assert.equal(await connectAndCheck(true), true, "inherited from the listener");
  } finally {
    await Deno.remove(pki.dir, { recursive: true });
  }
});

Deno.test("setListenerNoDelay() is false for a port nothing listens on", () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  assert.equal(setListenerNoDelay("127.0.0.1", port), false);
});

Deno.test("TunnelServer with TLS: the connection from its front to Deno.serve has TCP_NODELAY", async () => {
  const pki = await makeTestPki();
  const tls = { cert: pki.cert, key: pki.key, ca: pki.ca };
  const server = new TunnelServer({
    listen: "127.0.0.1:0",
    nodeName: "b",
    key: TEST_KEY,
    tls,
    log: nullLogger,
  });
  const dialer = new TunnelDialer({
    nodeName: "a",
    key: TEST_KEY,
    tls,
    peers: { b: `127.0.0.1:${server.addr.port}` },
    log: nullLogger,
  });
  try {
    // A refused stream: the connection went through TLS and HTTP/2 to Deno.serve and stays.
    await assert.rejects(
      dialer.dial({
        namespace: "default",
        service: "nothing",
        port: servicePort(80),
        backend: { ip: "10.0.0.9", port: 9, nodeName: "b" },
      }, { timeoutMs: 5000 }),
      (err) => err instanceof TunnelDialError && err.reason === "unknown-service",
    );
    const sockets = [...tcpSockets()];
    // The loopback listener of Deno.serve: the one that is not the front's.
    const inner = sockets.filter((s) =>
      s.listening && s.hostname === "127.0.0.1" && s.port !== server.addr.port
    );
    assert.equal(inner.length, 1, JSON.stringify(sockets));
    const accepted = sockets.filter((s) => !s.listening && s.port === inner[0]!.port);
    assert.equal(accepted.length, 1, JSON.stringify(sockets));
    assert.equal(tcpNoDelay(accepted[0]!.fd), true);
  } finally {
    dialer.close();
    await server.close();
    await Deno.remove(pki.dir, { recursive: true });
  }
});
