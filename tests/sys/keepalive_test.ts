// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * TCP keepalive through FFI (`lib/sys/keepalive.ts`) on real loopback sockets: the options read
 * back from the socket, and a listener passing them to the connections it accepts.
 */
import assert from "node:assert/strict";
import {
  keepAliveOf,
  setConnectionKeepAlive,
  setListenerKeepAlive,
  type TcpKeepAlive,
  TUNNEL_KEEPALIVE,
} from "../../lib/sys/keepalive.ts";
import { tcpSockets } from "../../lib/sys/nodelay.ts";

const KA: TcpKeepAlive = { idleSec: 7, intervalSec: 3, probes: 2, userTimeoutMs: 9000 };

/** The descriptor of this process's connected socket with these ports. */
function fdOf(localPort: number, peerPort: number): number {
  for (const s of tcpSockets()) {
    if (!s.listening && s.port === localPort && s.peerPort === peerPort) return s.fd;
  }
  throw new Error(`no socket ${localPort} → ${peerPort}`);
}

Deno.test("setConnectionKeepAlive() sets keepalive, its timing and TCP_USER_TIMEOUT on a connected socket", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  using client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  using _server = await listener.accept();
  const local = (client.localAddr as Deno.NetAddr).port;
  assert.equal(keepAliveOf(fdOf(local, listener.addr.port))?.on, false, "off by default");
  assert.equal(setConnectionKeepAlive(local, listener.addr.port, KA), true);
  assert.deepEqual(keepAliveOf(fdOf(local, listener.addr.port)), { on: true, ...KA });
  assert.equal(setConnectionKeepAlive(local, 1, KA), false, "no such socket");
});

Deno.test("setListenerKeepAlive() gives every connection the listener accepts afterwards the same settings", async (t) => {
  const rows: [listen: string, connectTo: string][] = [
    ["127.0.0.1", "127.0.0.1"],
    ["::1", "::1"],
    ["0.0.0.0", "127.0.0.1"],
    ["::", "::1"],
  ];
  for (const [hostname, connectTo] of rows) {
    await t.step(hostname, async () => {
      using listener = Deno.listen({ hostname, port: 0 });
      assert.equal(setListenerKeepAlive(listener.addr.hostname, listener.addr.port, KA), true);
      using client = await Deno.connect({ hostname: connectTo, port: listener.addr.port });
      using server = await listener.accept();
      const port = (server.localAddr as Deno.NetAddr).port;
      const peer = (client.localAddr as Deno.NetAddr).port;
      assert.deepEqual(keepAliveOf(fdOf(port, peer)), { on: true, ...KA });
    });
  }
});

Deno.test("TUNNEL_KEEPALIVE gives up a silent peer within about a minute", () => {
  const { idleSec, intervalSec, probes, userTimeoutMs } = TUNNEL_KEEPALIVE;
  assert.equal(idleSec + intervalSec * probes, 60);
  assert.equal(userTimeoutMs, 60_000);
});
