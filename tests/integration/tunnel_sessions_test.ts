// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Many concurrent tunnel streams to one peer over loopback (`lib/tunnel/session_choice.ts`,
 * `peer_pool.ts`): `Deno.serve` (Deno 2.9.6) allows 200 streams at once per HTTP/2 connection
 * (`SETTINGS_MAX_CONCURRENT_STREAMS`), so the 201st stream of one session waited in the client,
 * its dial timed out after `dialTimeoutMs` and the healthy peer was marked down (measured: of 250
 * held streams 200 opened, 50 failed with `timeout` after 2.0 s, the peer `down`, and the next
 * dial failed fast). Now a peer gets more sessions as the ones it has fill up.
 */
import assert from "node:assert/strict";
import { memoryLogger } from "../../lib/log/mod.ts";
import { MetricsRegistry } from "../../lib/metrics/mod.ts";
import type { DialTarget, UpstreamConn } from "../../lib/proxy/dialer.ts";
import {
  type HeartbeatPolicy,
  PING_PATH,
  type SessionPoolPolicy,
  TunnelDialer,
  TunnelDialError,
} from "../../lib/tunnel/mod.ts";
import { denoServe } from "../../lib/tunnel/inner.ts";
import { EMULATED } from "../_helpers/emulation.ts";
import { pollUntil } from "../_helpers/poll.ts";
import {
  echoSnapshot,
  readExactly,
  servicePort,
  startEchoServer,
  TEST_KEY,
  tunnelServerB,
  writeAll,
} from "../tunnel/_fixtures.ts";

/** The agent's `dialTimeoutMs` (2 s); more under emulation. */
const DIAL_TIMEOUT_MS = EMULATED ? 10_000 : 2_000;

/**
 * Natively 250 streams over `Deno.serve`'s real limit of 200 per connection. Under emulation a
 * dial costs about 0.25 s, so 12 streams over a cap of 10 per connection (same code path).
 */
const MANY = EMULATED
  ? {
    streams: 12,
    perSession: 9,
    sessions: { maxSessions: 4, maxStreamsPerSession: 10, idleCloseMs: 10_000 },
  }
  : { streams: 250, perSession: 199, sessions: undefined };

/**
 * Node "b" (an echo endpoint greeting `b1:` and its TunnelServer) and node "a"'s dialer;
 * `onPing` gets the port each heartbeat came from on b's side (one per connection).
 */
function startNodes(
  opts: {
    sessions?: SessionPoolPolicy;
    maxConnectionsPerAddress?: number;
    heartbeat?: HeartbeatPolicy;
    onPing?: (fromPort: number) => void;
  } = {},
) {
  const echo = startEchoServer("b1:");
  const server = tunnelServerB({
    log: memoryLogger(),
    // The peer's own dial of the echo endpoint takes what the dialer asks (0.8 × its timeout),
    // capped at 5 s by default: under emulation that cap failed a loopback connect twice in CI
    // runs (at 0f8d1de and at 57cb2ce), the emulated process stalling past it.
    ...(EMULATED ? { dialTimeoutMs: DIAL_TIMEOUT_MS } : {}),
    serve: (options, handler) =>
      denoServe(options, (req, info) => {
        if (new URL(req.url).pathname === PING_PATH) opts.onPing?.(info.remoteAddr.port);
        return handler(req, info);
      }),
    ...(opts.maxConnectionsPerAddress === undefined
      ? {}
      : { maxConnectionsPerAddress: opts.maxConnectionsPerAddress }),
  });
  server.update(echoSnapshot(echo.port));
  const metrics = new MetricsRegistry();
  const log = memoryLogger("debug");
  const dialer = new TunnelDialer({
    nodeName: "a",
    key: TEST_KEY,
    peers: { b: `127.0.0.1:${server.addr.port}` },
    log,
    metrics,
    ...(opts.sessions ? { sessions: opts.sessions } : {}),
    ...(opts.heartbeat ? { heartbeat: opts.heartbeat } : {}),
  });
  const target: DialTarget = {
    namespace: "default",
    service: "echo",
    port: servicePort(80),
    backend: { ip: "127.0.0.1", port: echo.port, nodeName: "b" },
  };
  const conns: UpstreamConn[] = [];
  return {
    dialer,
    log,
    metrics,
    /** Opens `n` streams at once (held open until the end), each as a settled result. */
    dialMany(n: number): Promise<PromiseSettledResult<UpstreamConn>[]> {
      return Promise.allSettled(Array.from({ length: n }, async () => {
        const conn = await dialer.dial(target, { timeoutMs: DIAL_TIMEOUT_MS });
        conns.push(conn);
        return conn;
      }));
    },
    dial(): Promise<UpstreamConn> {
      return dialer.dial(target, { timeoutMs: DIAL_TIMEOUT_MS }).then((conn) => {
        conns.push(conn);
        return conn;
      });
    },
    sessionsGauge: () =>
      /edgemesh_tunnel_peer_sessions\{peer="b"\} (\d+)/.exec(metrics.render())?.[1],
    async [Symbol.asyncDispose]() {
      for (const c of conns) c.close();
      dialer.close();
      await server.close();
      await echo.close();
    },
  };
}

/** Sends `text` on `conn` and reads the echo endpoint's greeting and the echo back. */
async function echoes(conn: UpstreamConn, text: string): Promise<string> {
  await writeAll(conn, new TextEncoder().encode(text));
  return new TextDecoder().decode(await readExactly(conn, 3 + text.length));
}

Deno.test("TunnelDialer carries more concurrent streams to one peer than a connection takes (250): all open, all carry data, the peer stays up", async () => {
  // Heartbeats on both connections: the full one (199 streams) keeps room for its ping.
  const from = new Set<number>();
  const pinged = Promise.withResolvers<void>();
  await using n = startNodes({
    ...(MANY.sessions ? { sessions: MANY.sessions } : {}),
    heartbeat: { intervalMs: 100, timeoutMs: EMULATED ? 10_000 : 2000, tickMs: 25 },
    onPing: (port) => {
      if (from.add(port).size === 2) pinged.resolve();
    },
  });
  const results = await n.dialMany(MANY.streams);
  const failed = results.filter((r) => r.status === "rejected");
  assert.deepEqual(failed.map((r) => String((r as PromiseRejectedResult).reason)), []);
  const conns = results.map((r) => (r as PromiseFulfilledResult<UpstreamConn>).value);
  const echoed = await Promise.all(conns.map((c, i) => echoes(c, `s${i}`)));
  assert.deepEqual(echoed, conns.map((_, i) => `b1:s${i}`));
  const [status] = n.dialer.status();
  assert.equal(status?.state, "up");
  assert.equal(status?.activeStreams, MANY.streams);
  // Deno.serve allows 200 streams per connection, one of them kept for the heartbeat.
  assert.equal(status?.sessions, Math.ceil(MANY.streams / MANY.perSession));
  assert.equal(Math.ceil(MANY.streams / MANY.perSession), 2);
  assert.equal(n.sessionsGauge(), "2");
  await pinged.promise;
  assert.equal(
    n.metrics.counter("edgemesh_tunnel_heartbeat_failures_total", "").get({ peer: "b" }),
    0,
  );
  // Another stream still opens, on the second connection.
  assert.equal(await echoes(await n.dial(), "more"), "b1:more");
  assert.deepEqual(n.log.lines.filter((l) => l.includes("tunnel peer down")), []);
});

Deno.test("TunnelDialer closes a session beyond the first once its streams have ended; the first stays", async () => {
  // 2 streams per session (3 allowed, one kept for the heartbeat).
  await using n = startNodes({
    sessions: { maxSessions: 4, maxStreamsPerSession: 3, idleCloseMs: 0 },
  });
  const results = await n.dialMany(4);
  const conns = results.map((r) => {
    assert.equal(r.status, "fulfilled");
    return (r as PromiseFulfilledResult<UpstreamConn>).value;
  });
  assert.equal(n.dialer.status()[0]?.sessions, 2);
  // The streams pack onto the oldest session: the first two are on the first one.
  for (const c of conns.slice(2)) c.close();
  await pollUntil(
    () => n.dialer.status()[0]?.sessions === 1,
    () => `one session left (${JSON.stringify(n.dialer.status())})`,
  );
  assert.equal(n.sessionsGauge(), "1");
  for (const c of conns.slice(0, 2)) assert.equal(await echoes(c, "on"), "b1:on");
  for (const c of conns.slice(0, 2)) c.close();
  await pollUntil(
    () => n.dialer.status()[0]?.activeStreams === 0,
    () => "no streams open",
  );
  // The first session stays open for the next stream.
  assert.equal(n.dialer.status()[0]?.sessions, 1);
  assert.equal(await echoes(await n.dial(), "again"), "b1:again");
  assert.equal(n.dialer.status()[0]?.sessions, 1);
});

Deno.test("TunnelDialer refuses a stream beyond maxSessions full sessions as peer-busy and keeps the peer up", async () => {
  await using n = startNodes({
    sessions: { maxSessions: 2, maxStreamsPerSession: 3, idleCloseMs: 0 },
  });
  const results = await n.dialMany(5);
  const reasons = results.map((r) =>
    r.status === "fulfilled" ? "ok" : (r.reason as TunnelDialError).reason
  );
  assert.deepEqual(reasons.filter((r) => r === "ok").length, 4);
  assert.deepEqual(reasons.filter((r) => r !== "ok"), ["peer-busy"]);
  const failure = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
  assert.match(failure.reason.message, /is busy: 4 streams are open on the 2 connections/);
  assert.equal(n.dialer.status()[0]?.state, "up");
  assert.equal(
    n.metrics.counter("edgemesh_tunnel_streams_total", "").get({
      direction: "out",
      result: "peer-busy",
    }),
    1,
  );
});

Deno.test("TunnelDialer keeps the peer up when its front closes an extra connection (per-address cap)", async () => {
  await using n = startNodes({
    sessions: { maxSessions: 4, maxStreamsPerSession: 3, idleCloseMs: 0 },
    maxConnectionsPerAddress: 1,
  });
  const first = await n.dialMany(2);
  assert.ok(first.every((r) => r.status === "fulfilled"));
  // The third stream needs a second connection, which the peer's front closes at once.
  await assert.rejects(n.dial(), (err: TunnelDialError) => {
    assert.equal(err.reason, "peer-unreachable");
    return true;
  });
  const [status] = n.dialer.status();
  assert.equal(status?.state, "up");
  assert.equal(status?.activeStreams, 2);
  assert.deepEqual(n.log.lines.filter((l) => l.includes("tunnel peer down")), []);
});
