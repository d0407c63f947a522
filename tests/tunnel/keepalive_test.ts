// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The tunnel's connections carry TCP keepalive at both ends (`lib/sys/keepalive.ts`), so a peer
 * that vanishes without a word (power, link) is given up by the kernel instead of holding its
 * streams for good: the dialer's socket to the peer and the server's accepted one.
 */
import assert from "node:assert/strict";
import { nullLogger } from "../../lib/log/mod.ts";
import { keepAliveOf, type TcpKeepAlive } from "../../lib/sys/keepalive.ts";
import { tcpSockets } from "../../lib/sys/nodelay.ts";
import { TunnelDialer } from "../../lib/tunnel/mod.ts";
import {
  roundTrip,
  servicePort,
  snapshotOf,
  startEchoServer,
  TEST_KEY,
  tunnelServerB,
} from "./_fixtures.ts";

const SERVER_KA: TcpKeepAlive = { idleSec: 11, intervalSec: 4, probes: 2, userTimeoutMs: 19_000 };
const DIALER_KA: TcpKeepAlive = { idleSec: 13, intervalSec: 5, probes: 3, userTimeoutMs: 29_000 };

/** Keepalive settings of this process's connected sockets matching `pick`. */
function settingsOf(pick: (port: number, peerPort: number | null) => boolean) {
  return [...tcpSockets()]
    .filter((s) => !s.listening && pick(s.port, s.peerPort))
    .map((s) => keepAliveOf(s.fd));
}

Deno.test("tunnel connections have TCP keepalive at both ends", async () => {
  const echo = startEchoServer("b:");
  const server = tunnelServerB({ keepAlive: SERVER_KA });
  const dialer = new TunnelDialer({
    nodeName: "a",
    key: TEST_KEY,
    peers: { b: `127.0.0.1:${server.addr.port}` },
    log: nullLogger,
    keepAlive: DIALER_KA,
  });
  try {
    const backend = { ip: "127.0.0.1", port: echo.port, nodeName: "b" };
    server.update(snapshotOf([{
      namespace: "default",
      name: "echo",
      port: 80,
      endpoints: [backend],
    }]));
    const conn = await dialer.dial(
      { namespace: "default", service: "echo", port: servicePort(80), backend },
      { timeoutMs: 5000 },
    );
    assert.equal(await roundTrip(conn, "x"), "b:x");
    const port = server.addr.port;
    assert.deepEqual(settingsOf((_, peer) => peer === port), [{ on: true, ...DIALER_KA }]);
    assert.deepEqual(settingsOf((local) => local === port), [{ on: true, ...SERVER_KA }]);
    conn.close();
  } finally {
    dialer.close();
    await server.close();
    await echo.close();
  }
});
