// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The health of a tunnel dialer's peers (`lib/tunnel/peer_pool.ts`) against the wall clock:
 * backoff runs on the monotonic clock, status speaks epoch milliseconds; and when a retired
 * session may be destroyed.
 */
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import * as http2 from "node:http2";
import { memoryLogger, nullLogger } from "../../lib/log/mod.ts";
import { MetricsRegistry } from "../../lib/metrics/mod.ts";
import type { DialTarget } from "../../lib/proxy/dialer.ts";
import {
  DEFAULT_BACKOFF,
  DEFAULT_SESSION_POOL,
  TunnelDialer,
  TunnelDialError,
  tunnelMetrics,
  TunnelServer,
} from "../../lib/tunnel/mod.ts";
import {
  type Channel,
  type Peer,
  PeerPool,
  type PeerPoolOptions,
} from "../../lib/tunnel/peer_pool.ts";
import { steppableWallClock } from "../_helpers/clock.ts";
import { pollUntil } from "../_helpers/poll.ts";
import { servicePort, startEchoPeer, TEST_KEY, tunnelServerB } from "./_fixtures.ts";

Deno.test("TunnelDialer's default clocks: a wall clock set back does not stretch a down peer's backoff", async () => {
  using wall = steppableWallClock();
  // A port nobody listens on: the dial is refused at once and the peer goes down for 60 s.
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = closed.addr.port;
  closed.close();
  const dialer = new TunnelDialer({
    nodeName: "a",
    key: TEST_KEY,
    peers: { b: `127.0.0.1:${port}` },
    log: nullLogger,
    backoff: { initialMs: 60_000, maxMs: 60_000 },
  });
  const target: DialTarget = {
    namespace: "default",
    service: "echo",
    port: servicePort(80),
    backend: { ip: "192.0.2.10", port: 8080, nodeName: "b" },
  };
  const retryIn = () => (dialer.status()[0]?.retryAt ?? NaN) - Date.now();
  try {
    await assert.rejects(dialer.dial(target, { timeoutMs: 2_000 }), TunnelDialError);
    assert.equal(dialer.status()[0]?.state, "down");
    assert.ok(retryIn() > 59_000 && retryIn() <= 60_000, `${retryIn()} ms`);

    wall.step(-3_600_000); // NTP corrects a clock that ran an hour ahead
    assert.ok(
      retryIn() > 59_000 && retryIn() <= 60_000,
      `status: ${retryIn()} ms, not an hour more`,
    );
    await assert.rejects(dialer.dial(target, { timeoutMs: 2_000 }), (e: Error) => {
      const ms = Number(/retry in (\d+) ms/.exec(e.message)?.[1]);
      assert.ok(ms > 59_000 && ms <= 60_000, e.message);
      return true;
    });
  } finally {
    await dialer.close();
  }
});

Deno.test("TunnelDialer with probe probes a down peer again when its backoff ends, without a dial", async () => {
  // Nothing listens on the peer's port at first: the start probe marks it down.
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = closed.addr.port;
  closed.close();
  const log = memoryLogger("debug");
  const metrics = new MetricsRegistry();
  const dialer = new TunnelDialer({
    nodeName: "a",
    key: TEST_KEY,
    peers: { b: `127.0.0.1:${port}` },
    log,
    metrics,
    probe: true,
    backoff: { initialMs: 20, maxMs: 40 },
  });
  let server: TunnelServer | null = null;
  try {
    await dialer.probed();
    assert.equal(dialer.status()[0]?.state, "down");
    // Probed again while it stays down: each failure is one more (debug) line, no new warning.
    await pollUntil(
      () => log.lines.filter((l) => l.includes('"msg":"tunnel peer still down"')).length >= 2,
      () => "two more probes of the down peer",
      5_000,
    );
    assert.equal(log.lines.filter((l) => l.includes('"msg":"tunnel peer down"')).length, 1);

    // The peer comes back; no dial is made: the next probe finds it.
    server = new TunnelServer({
      listen: `127.0.0.1:${port}`,
      nodeName: "b",
      key: TEST_KEY,
      log: nullLogger,
    });
    await pollUntil(
      () => dialer.status()[0]?.state === "up",
      () => `peer b up again (${JSON.stringify(dialer.status())})`,
      5_000,
    );
    assert.match(log.lines.join("\n"), /"level":"info".*"msg":"tunnel peer up"/);
    assert.match(metrics.render(), /^edgemesh_tunnel_peer_up\{peer="b"\} 1$/m);
  } finally {
    await dialer.close();
    await server?.close();
  }
});

/** The peer "b" and the session the pool chooses for a new stream to it. */
function newChannel(pool: PeerPool): { peer: Peer; ch: Channel } {
  const peer = pool.get("b")!;
  const pick = pool.channel(peer);
  assert.equal(pick.kind, "channel");
  return { peer, ch: (pick as { channel: Channel }).channel };
}

/** A pool for node "a" with the one peer "b" at `server`, no probe, heartbeat or keepalive. */
function poolOf(
  server: TunnelServer,
  over: Partial<Pick<PeerPoolOptions, "sessions" | "sourceWatch">> = {},
): PeerPool {
  return new PeerPool({
    nodeName: "a",
    tls: null,
    configPeers: { b: `127.0.0.1:${server.addr.port}` },
    port: server.addr.port,
    log: nullLogger,
    metrics: tunnelMetrics(),
    now: Date.now,
    clock: () => performance.now(),
    backoff: DEFAULT_BACKOFF,
    probe: false,
    probeTimeoutMs: 2000,
    keepAlive: null,
    heartbeat: null,
    sessions: over.sessions ?? DEFAULT_SESSION_POOL,
    sourceWatch: over.sourceWatch ?? null,
  });
}

Deno.test("PeerPool destroys a retired session only once the stream cancelled on it has closed", async () => {
  // Deno 2.9.6's node:http2 sends a cancelled stream's RST_STREAM later (once the stream is
  // ready); destroying the session in between crashed the process with SIGSEGV in nghttp2
  // (bench/micro/tunnel_churn.ts). The pattern: a dial cancelled before its answer, whose
  // failure retires the session, then released.
  const server = tunnelServerB();
  const pool = poolOf(server);
  try {
    const { peer, ch } = newChannel(pool);
    pool.acquire(ch);
    const req = ch.session.request({ ":method": "POST", ":path": "/v1/stream" });
    pool.opened(ch, req);
    req.on("error", () => {}); // the dialer listens too
    const streamClosed = Promise.withResolvers<boolean>();
    req.once("close", () => streamClosed.resolve(ch.session.destroyed));
    const sessionClosed = new Promise((r) => ch.session.once("close", r));
    assert.equal(req.pending, true, "cancelled before it was even sent");
    req.close(http2.constants.NGHTTP2_CANCEL);
    pool.retire(peer);
    pool.release(ch);
    assert.equal(ch.session.destroyed, false, "kept while the stream's RST_STREAM is pending");
    assert.equal(await streamClosed.promise, false, "still open when the stream closed");
    assert.equal(req.rstCode, http2.constants.NGHTTP2_CANCEL);
    await sessionClosed;
    assert.equal(ch.session.destroyed, true);
    assert.deepEqual(pool.status().map((p) => p.sessions), [0]);
  } finally {
    pool.close();
    await server.close();
  }
});

Deno.test("PeerPool destroys a retired session whose stream never closes after quietDestroyMaxMs", async () => {
  const server = tunnelServerB();
  const pool = poolOf(server, { sessions: { ...DEFAULT_SESSION_POOL, quietDestroyMaxMs: 20 } });
  try {
    const { peer, ch } = newChannel(pool);
    // A stream whose "close" never comes (its RST_STREAM stuck behind a dead connection).
    const stuck = new EventEmitter();
    pool.opened(ch, stuck as unknown as http2.ClientHttp2Stream);
    const sessionClosed = new Promise((r) => ch.session.once("close", r));
    pool.retire(peer);
    assert.equal(ch.session.destroyed, false, "waits for the stream first");
    assert.equal(ch.streams, 1);
    await sessionClosed;
    assert.equal(ch.session.destroyed, true, "destroyed anyway at the cap");
    assert.equal(stuck.listenerCount("close"), 1, "the stream had still not closed");
    assert.deepEqual(pool.status().map((p) => p.sessions), [0]);
  } finally {
    pool.close();
    await server.close();
  }
});

Deno.test("PeerPool.failureCounts(): a failed dial on a session whose source left the node retires it and does not count against the peer", async () => {
  await using b = startEchoPeer();
  let local = true;
  // Never looked at on its own within the test: only failureCounts() looks.
  const pool = poolOf(b.server, {
    sourceWatch: { intervalMs: 3_600_000, dialLookMs: 3_600_000, isLocal: () => local },
  });
  try {
    const { ch } = newChannel(pool);
    await new Promise((r) => ch.session.once("connect", r));
    assert.equal(ch.source, "127.0.0.1");
    assert.equal(pool.failureCounts(ch), true, "a live source: the failure is the peer's");
    local = false;
    assert.equal(pool.failureCounts(ch), false);
    assert.equal(ch.retired, true);
    assert.equal(ch.source, null, "handled once");
  } finally {
    pool.close();
  }
});
