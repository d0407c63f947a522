// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * TunnelDialer's view of its peers (unknown until reached, the start probe) and its warnings
 * when a peer rejects our key or has no room for our streams, against a TunnelServer on loopback.
 */
import assert from "node:assert/strict";
import { memoryLogger, nullLogger } from "../../lib/log/mod.ts";
import { MetricsRegistry } from "../../lib/metrics/mod.ts";
import type { DialTarget } from "../../lib/proxy/dialer.ts";
import {
  TunnelDialer,
  type TunnelDialerOptions,
  TunnelDialError,
  TunnelServer,
  type TunnelTls,
} from "../../lib/tunnel/mod.ts";
import { EMULATED } from "../_helpers/emulation.ts";
import { makeTestPki, servicePort, snapshotOf, TEST_KEY } from "./_fixtures.ts";

const OPTS = { timeoutMs: 5000 };

/**
 * The probe tests' timeout: short natively; under emulation a TLS handshake in a cold isolate
 * took longer than 200 ms on its own (the TLS row failed run alone, before any change).
 */
const PROBE_TIMEOUT_MS = EMULATED ? 2000 : 200;

/** A target node "b" does not serve: the peer answers with a refusal, so it is reached. */
const UNSERVED: DialTarget = {
  namespace: "default",
  service: "nothing",
  port: servicePort(80),
  backend: { ip: "10.0.0.9", port: 9, nodeName: "b" },
};

function serverB(
  over: {
    now?: () => number;
    log?: ReturnType<typeof memoryLogger>;
    tls?: TunnelTls;
    metrics?: MetricsRegistry;
    maxNonces?: number;
    maxNoncesPerSource?: number;
  } = {},
) {
  const server = new TunnelServer({
    listen: "127.0.0.1:0",
    nodeName: "b",
    key: TEST_KEY,
    log: over.log ?? nullLogger,
    ...(over.now ? { now: over.now } : {}),
    ...(over.tls ? { tls: over.tls } : {}),
    ...(over.metrics ? { metrics: over.metrics } : {}),
    ...(over.maxNonces ? { maxNonces: over.maxNonces } : {}),
    ...(over.maxNoncesPerSource ? { maxNoncesPerSource: over.maxNoncesPerSource } : {}),
  });
  return Object.assign(server, { [Symbol.asyncDispose]: () => server.close() });
}

function dialerTo(port: number, over: Partial<TunnelDialerOptions> = {}) {
  const dialer = new TunnelDialer({
    nodeName: "a",
    key: TEST_KEY,
    peers: { b: `127.0.0.1:${port}` },
    log: nullLogger,
    ...over,
  });
  return Object.assign(dialer, { [Symbol.dispose]: () => dialer.close() });
}

/** The value of `edgemesh_tunnel_peer_up{peer="b"}`, or undefined without the series. */
function peerUp(metrics: MetricsRegistry): string | undefined {
  return /^edgemesh_tunnel_peer_up\{peer="b"\} (\d+)$/m.exec(metrics.render())?.[1];
}

Deno.test("TunnelDialer shows a peer it has not reached as unknown (peer_up 0), not up", async () => {
  await using server = serverB();
  const metrics = new MetricsRegistry();
  using dialer = dialerTo(server.addr.port, { metrics });
  assert.deepEqual(
    dialer.status().map((p) => [p.state, p.up]),
    [["unknown", false]],
  );
  assert.equal(peerUp(metrics), "0");
  // A refusal comes from the peer: it is reached, so up.
  await assert.rejects(dialer.dial(UNSERVED, OPTS), TunnelDialError);
  assert.deepEqual(dialer.status().map((p) => [p.state, p.up]), [["up", true]]);
  assert.equal(peerUp(metrics), "1");
});

Deno.test("TunnelDialer with probe finds out at once whether each peer is reachable", async (t) => {
  const pki = await makeTestPki();
  const other = await makeTestPki();
  const tls = (p: typeof pki): TunnelTls => ({ cert: p.cert, key: p.key, ca: p.ca });
  try {
    const rows: {
      name: string;
      /** Starts the peer; returns its port and how to stop it. */
      peer: () => Promise<{ port: number; stop: () => Promise<void> }>;
      tls?: boolean;
      want: { state: string; error?: RegExp; line: RegExp };
    }[] = [
      {
        name: "a peer agent: up",
        peer: () => {
          const s = serverB();
          return Promise.resolve({ port: s.addr.port, stop: () => s.close() });
        },
        want: { state: "up", line: /"level":"debug".*"msg":"tunnel peer reachable"/ },
      },
      {
        name: "a peer agent over TLS: up once the certificate is checked",
        peer: () => {
          const s = serverB({ tls: tls(pki) });
          return Promise.resolve({ port: s.addr.port, stop: () => s.close() });
        },
        tls: true,
        want: { state: "up", line: /"level":"debug".*"msg":"tunnel peer reachable"/ },
      },
      {
        name: "a TLS peer whose certificate is from another CA: down",
        peer: () => {
          const s = serverB({ tls: tls(other) });
          return Promise.resolve({ port: s.addr.port, stop: () => s.close() });
        },
        tls: true,
        want: {
          state: "down",
          error: /certificate|issuer|UnknownIssuer/i,
          line: /"level":"warn".*"msg":"tunnel peer down"/,
        },
      },
      {
        name: "nothing listening: down",
        peer: async () => {
          const s = serverB();
          await s.close();
          return { port: s.addr.port, stop: () => Promise.resolve() };
        },
        want: {
          state: "down",
          error: /ECONNREFUSED|refused/i,
          line: /"level":"warn".*"msg":"tunnel peer down"/,
        },
      },
      {
        name: "a peer that accepts but never answers TLS: down after the probe timeout",
        peer: () => {
          const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
          const held: Deno.Conn[] = [];
          const accepting = (async () => {
            for await (const c of silent) held.push(c);
          })().catch(() => {});
          return Promise.resolve({
            port: silent.addr.port,
            stop: async () => {
              silent.close();
              await accepting;
              for (const c of held) c.close();
            },
          });
        },
        tls: true,
        want: {
          state: "down",
          error: new RegExp(`^no connection within ${PROBE_TIMEOUT_MS} ms$`),
          line: /"level":"warn".*"msg":"tunnel peer down"/,
        },
      },
    ];
    for (const r of rows) {
      await t.step(r.name, async () => {
        const peer = await r.peer();
        const log = memoryLogger();
        const metrics = new MetricsRegistry();
        try {
          using dialer = dialerTo(peer.port, {
            probe: true,
            probeTimeoutMs: PROBE_TIMEOUT_MS,
            log,
            metrics,
            ...(r.tls ? { tls: tls(pki) } : {}),
          });
          assert.equal(dialer.status()[0]?.state, "unknown", "while the probe is in flight");
          assert.equal(peerUp(metrics), "0");
          await dialer.probed();
          const s = dialer.status()[0]!;
          assert.equal(s.state, r.want.state);
          assert.equal(peerUp(metrics), r.want.state === "up" ? "1" : "0");
          if (r.want.error) assert.match(s.lastError!, r.want.error);
          assert.match(log.lines.join("\n"), r.want.line);
          assert.equal(s.activeStreams, 0);
        } finally {
          await peer.stop();
        }
      });
    }
  } finally {
    await Deno.remove(pki.dir, { recursive: true });
    await Deno.remove(other.dir, { recursive: true });
  }
});

Deno.test("TunnelDialer with probe probes peers learnt later and reconnects after it", async () => {
  await using server = serverB();
  const metrics = new MetricsRegistry();
  // No configured peers: node "b" comes from its Node object, at the tunnel port given here.
  using dialer = dialerTo(0, { peers: {}, port: server.addr.port, metrics, probe: true });
  assert.deepEqual(dialer.status(), []);
  await dialer.probed(); // nothing in flight
  dialer.update(
    snapshotOf([], [{ name: "b", addresses: [{ type: "InternalIP", address: "127.0.0.1" }] }]),
  );
  assert.equal(dialer.status()[0]?.state, "unknown");
  await dialer.probed();
  assert.equal(dialer.status()[0]?.state, "up");
  assert.equal(peerUp(metrics), "1");
  // The probe's connection was closed: the next dial opens another and reaches the peer.
  await assert.rejects(dialer.dial(UNSERVED, OPTS), (err: Error) => {
    assert.equal((err as TunnelDialError).reason, "unknown-service");
    return true;
  });
  assert.equal(dialer.status()[0]?.state, "up");
});

Deno.test("TunnelDialer warns once per peer and minute when the peer rejects our key", async (t) => {
  let offset = 0;
  const now = () => Date.now() + offset;
  await using server = serverB({ now });
  const log = memoryLogger("info");
  using dialer = dialerTo(server.addr.port, { key: new Uint8Array(32).fill(7), log, now });
  /** Each row: clock offset, then the warning expected for this dial (null: none). */
  const rows: [number, { suppressed?: number } | null][] = [
    [0, {}],
    [1000, null],
    [59_000, null],
    [60_000, { suppressed: 2 }],
    [60_001, null],
  ];
  for (const [at, want] of rows) {
    await t.step(`t=${at}`, async () => {
      offset = at;
      const before = log.lines.length;
      await assert.rejects(dialer.dial(UNSERVED, OPTS), (err: Error) => {
        assert.equal((err as TunnelDialError).reason, "unauthenticated");
        return true;
      });
      const lines = log.lines.slice(before).map((l) => JSON.parse(l));
      if (want === null) return assert.deepEqual(lines, []);
      assert.equal(lines.length, 1);
      const { level, msg, peer, address, suppressed } = lines[0];
      assert.deepEqual({ level, peer, address, suppressed }, {
        level: "warn",
        peer: "b",
        address: `127.0.0.1:${server.addr.port}`,
        suppressed: want.suppressed,
      });
      assert.equal(
        msg,
        'Peer "b" rejects our tunnel key: check that both nodes use the same tunnelKeyFile ' +
          "(and that their clocks agree within 60 s)",
      );
    });
  }
});

Deno.test("TunnelServer and TunnelDialer say each refusal as what it is: key, rate limit, full cache", async (t) => {
  const rows: {
    name: string;
    server: { maxNonces?: number; maxNoncesPerSource?: number };
    key: Uint8Array;
    /** The refusal of the second dial (the first uses up the only nonce a limit allows). */
    reason: string;
    serverMsg: RegExp;
    dialerMsg: string;
    authFailures: number;
  }[] = [
    {
      name: "another key",
      server: {},
      key: new Uint8Array(32).fill(7),
      reason: "unauthenticated",
      serverMsg: /^Tunnel peer failed authentication \(bad signature\)/,
      dialerMsg: 'Peer "b" rejects our tunnel key: check that both nodes use the same ' +
        "tunnelKeyFile (and that their clocks agree within 60 s)",
      authFailures: 2,
    },
    {
      name: "this address's share of the nonce cache is used up",
      server: { maxNoncesPerSource: 1 },
      key: TEST_KEY,
      reason: "rate-limited",
      serverMsg: /^Tunnel peer rate-limited: this address opened more streams/,
      dialerMsg: 'Peer "b" rate-limits our tunnel streams (rate-limited): this node opened more ' +
        "streams within the peer's replay window than one address may; streams are refused " +
        "until its nonces expire (not a key problem)",
      authFailures: 0,
    },
    {
      name: "the whole nonce cache is full",
      server: { maxNonces: 1 },
      key: TEST_KEY,
      reason: "cache-full",
      serverMsg: /^Tunnel refused a stream: the nonce cache is full/,
      dialerMsg: 'Peer "b" refuses tunnel streams: its nonce cache is full (cache-full: too many ' +
        "streams from all its peers within the replay window; not a key problem)",
      authFailures: 0,
    },
  ];
  for (const r of rows) {
    await t.step(r.name, async () => {
      const serverLog = memoryLogger("info");
      const metrics = new MetricsRegistry();
      await using server = serverB({ ...r.server, log: serverLog, metrics });
      const log = memoryLogger("info");
      using dialer = dialerTo(server.addr.port, { key: r.key, log });
      const reasons: string[] = [];
      for (let i = 0; i < 2; i++) {
        await assert.rejects(dialer.dial(UNSERVED, OPTS), (err: Error) => {
          reasons.push((err as TunnelDialError).reason);
          return true;
        });
      }
      const first = r.reason === "unauthenticated" ? "unauthenticated" : "unknown-service";
      assert.deepEqual(reasons, [first, r.reason]);
      const warned = log.lines.map((l) => JSON.parse(l)).filter((l) => l.level === "warn");
      assert.deepEqual(warned.map((l) => l.msg), [r.dialerMsg]);
      assert.equal(warned[0].peer, "b");
      const serverWarned = serverLog.lines.map((l) => JSON.parse(l))
        .filter((l) => l.level === "warn");
      assert.equal(serverWarned.length, 1);
      assert.match(serverWarned[0].msg, r.serverMsg);
      assert.equal(serverWarned[0].source, "a");
      const text = metrics.render();
      // A counter never incremented has no series: 0.
      const authFailures = /^edgemesh_tunnel_auth_failures_total (\d+)$/m.exec(text)?.[1] ?? "0";
      assert.equal(Number(authFailures), r.authFailures);
      assert.match(
        text,
        new RegExp(
          `^edgemesh_tunnel_refusals_total\\{reason="${r.reason}"\\} ${
            r.reason === "unauthenticated" ? 2 : 1
          }$`,
          "m",
        ),
      );
    });
  }
});
