// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The tunnel over loopback: a TunnelServer for node "b" whose endpoints are echo servers on
 * 127.0.0.1, and a TunnelDialer on node "a" with `peers: {b: 127.0.0.1:<port>}`.
 */
import assert from "node:assert/strict";
import { scaled } from "../_helpers/emulation.ts";
import { nullLogger } from "../../lib/log/mod.ts";
import { MetricsRegistry } from "../../lib/metrics/mod.ts";
import type { DialTarget, UpstreamConn } from "../../lib/proxy/dialer.ts";
import {
  formatHostPort,
  TunnelDialer,
  TunnelDialError,
  TunnelServer,
  type TunnelTls,
} from "../../lib/tunnel/mod.ts";
import {
  type EchoServer,
  makeTestPki,
  readExactly,
  roundTrip,
  servicePort,
  snapshotOf,
  startEchoServer,
  TEST_KEY,
  writeAll,
} from "../tunnel/_fixtures.ts";

interface Pair extends AsyncDisposable {
  readonly echo1: EchoServer;
  readonly echo2: EchoServer;
  readonly server: TunnelServer;
  readonly dialer: TunnelDialer;
  readonly metricsA: MetricsRegistry;
  readonly metricsB: MetricsRegistry;
  /** A dial target of service `default/<name>` at an echo server on node `nodeName`. */
  target(echo: EchoServer, name?: string, nodeName?: string): DialTarget;
}

/**
 * Node "b" serves `default/echo` (echo1 on b, echo2 listed as on node c). Everything is on
 * `host` (127.0.0.1 unless set; `::1` for IPv6), the server listens on `listen` (`host` at
 * port 0 unless set) and node "a" has `peers: {b: <host>:<port>}`.
 */
function startPair(
  options: {
    tls?: TunnelTls;
    dialerKey?: Uint8Array;
    dialerTls?: TunnelTls;
    host?: string;
    listen?: string;
  } = {},
): Pair {
  const host = options.host ?? "127.0.0.1";
  const echo1 = startEchoServer("b1:", host);
  const echo2 = startEchoServer("c1:", host);
  const metricsA = new MetricsRegistry();
  const metricsB = new MetricsRegistry();
  const server = new TunnelServer({
    listen: options.listen ?? formatHostPort(host, 0),
    nodeName: "b",
    key: TEST_KEY,
    loopbackEndpointsForTests: true, // every "node" is on this host's loopback
    tls: options.tls ?? null,
    log: nullLogger,
    metrics: metricsB,
  });
  server.update(snapshotOf([{
    namespace: "default",
    name: "echo",
    port: 80,
    endpoints: [
      { ip: host, port: echo1.port, nodeName: "b" },
      { ip: host, port: echo2.port, nodeName: "c" },
    ],
  }]));
  const dialer = new TunnelDialer({
    nodeName: "a",
    key: options.dialerKey ?? TEST_KEY,
    tls: options.dialerTls ?? options.tls ?? null,
    peers: { b: formatHostPort(host, server.addr.port) },
    log: nullLogger,
    metrics: metricsA,
  });
  return {
    echo1,
    echo2,
    server,
    dialer,
    metricsA,
    metricsB,
    target: (echo, name = "echo", nodeName = "b") => ({
      namespace: "default",
      service: name,
      port: servicePort(80),
      backend: { ip: host, port: echo.port, nodeName },
    }),
    async [Symbol.asyncDispose]() {
      dialer.close();
      await server.close();
      await echo1.close();
      await echo2.close();
    },
  };
}

const OPTS = { timeoutMs: 5000 };

Deno.test("TunnelDialer.dial() carries a round trip through the peer's TunnelServer", async () => {
  await using p = startPair();
  const conn = await p.dialer.dial(p.target(p.echo1), OPTS);
  try {
    assert.equal(await roundTrip(conn, "hello through the tunnel"), "b1:hello through the tunnel");
  } finally {
    conn.close();
  }
  const streams = p.metricsA.counter("edgemesh_tunnel_streams_total", "");
  assert.equal(streams.get({ direction: "out", result: "ok" }), 1);
  const inbound = p.metricsB.counter("edgemesh_tunnel_streams_total", "");
  assert.equal(inbound.get({ direction: "in", result: "ok" }), 1);
  assert.equal(p.metricsA.counter("edgemesh_tunnel_bytes_total", "").get({ direction: "out" }), 24);
  assert.equal(p.metricsA.counter("edgemesh_tunnel_bytes_total", "").get({ direction: "in" }), 27);
  assert.deepEqual(p.dialer.status(), [{
    node: "b",
    address: `127.0.0.1:${p.server.addr.port}`,
    source: "config",
    state: "up",
    up: true,
    activeStreams: 0,
    // The connection stays open for the next stream (the first session is never closed idle).
    sessions: 1,
  }]);
  assert.match(p.metricsA.render(), /edgemesh_tunnel_peer_up\{peer="b"\} 1/);
  assert.match(p.metricsA.render(), /edgemesh_tunnel_peer_sessions\{peer="b"\} 1/);
});

/** Byte `i` of the test stream: a random block repeated with a period prime to the chunking. */
function pattern(base: Uint8Array, pos: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[i] = base[(pos + i) % base.length]!;
  return out;
}

Deno.test("TunnelDialer.dial() echoes 100 MiB byte-exact with half-close (10 MiB emulated)", async () => {
  await using p = startPair();
  const total = scaled(100) * 1024 * 1024;
  const base = crypto.getRandomValues(new Uint8Array(65_521));
  const conn = await p.dialer.dial(p.target(p.echo1), OPTS);
  try {
    const greeting = new TextDecoder().decode(await readExactly(conn, 3));
    assert.equal(greeting, "b1:");
    const writer = (async () => {
      const slice = 1024 * 1024;
      for (let pos = 0; pos < total; pos += slice) await writeAll(conn, pattern(base, pos, slice));
      await conn.closeWrite();
    })();
    let got = 0;
    let sumSent = 0;
    let sumGot = 0;
    for (let i = 0; i < total; i++) {
      sumSent = (sumSent + base[i % base.length]! * ((i % 251) + 1)) >>> 0;
    }
    const buf = new Uint8Array(100_003);
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      for (let i = 0; i < n; i++) {
        const want = base[(got + i) % base.length]!;
        if (buf[i] !== want) assert.fail(`byte ${got + i} is ${buf[i]}, want ${want}`);
        sumGot = (sumGot + buf[i]! * (((got + i) % 251) + 1)) >>> 0;
      }
      got += n;
    }
    await writer;
    assert.equal(got, total);
    assert.equal(sumGot, sumSent);
  } finally {
    conn.close();
  }
});

Deno.test("TunnelServer refuses streams it must not serve, with a reason", async (t) => {
  await using p = startPair();
  const refusals = p.metricsB.counter("edgemesh_tunnel_refusals_total", "");
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closedPort = (closed.addr as Deno.NetAddr).port;
  closed.close();
  p.server.update(snapshotOf([{
    namespace: "default",
    name: "echo",
    port: 80,
    endpoints: [
      { ip: "127.0.0.1", port: p.echo1.port, nodeName: "b" },
      { ip: "127.0.0.1", port: p.echo2.port, nodeName: "c" },
      { ip: "127.0.0.1", port: closedPort, nodeName: "b" },
    ],
  }]));
  const rows: { name: string; target: DialTarget; want: string }[] = [
    {
      name: "endpoint on another node",
      target: p.target(p.echo2),
      want: "endpoint-not-local",
    },
    { name: "unknown service", target: p.target(p.echo1, "nope"), want: "unknown-service" },
    {
      name: "endpoint not listed",
      target: { ...p.target(p.echo1), backend: { ip: "127.0.0.2", port: 22, nodeName: "b" } },
      want: "endpoint-not-local",
    },
    {
      name: "endpoint refuses the connection",
      target: {
        ...p.target(p.echo1),
        backend: { ip: "127.0.0.1", port: closedPort, nodeName: "b" },
      },
      want: "dial-failed",
    },
  ];
  for (const r of rows) {
    await t.step(r.name, async () => {
      const before = refusals.get({ reason: r.want });
      await assert.rejects(p.dialer.dial(r.target, OPTS), (err: Error) => {
        assert.ok(err instanceof TunnelDialError);
        assert.equal(err.reason, r.want);
        assert.match(
          err.message,
          /^Cannot dial "default\/\w+" endpoint 127\.0\.0\.\d:\d+ through node "b": peer refused/,
        );
        return true;
      });
      assert.equal(refusals.get({ reason: r.want }), before + 1);
    });
  }
  await t.step("a refusal leaves the peer up", () => {
    assert.equal(p.dialer.status()[0]?.up, true);
  });
  await t.step("wrong key", async () => {
    const wrong = new TunnelDialer({
      nodeName: "a",
      key: new Uint8Array(32).fill(9),
      peers: { b: `127.0.0.1:${p.server.addr.port}` },
      log: nullLogger,
    });
    try {
      await assert.rejects(wrong.dial(p.target(p.echo1), OPTS), (err: Error) => {
        assert.ok(err instanceof TunnelDialError);
        assert.equal(err.reason, "unauthenticated");
        return true;
      });
    } finally {
      wrong.close();
    }
    assert.equal(p.metricsB.counter("edgemesh_tunnel_auth_failures_total", "").get(), 1);
    assert.equal(p.echo1.accepted, 0);
  });
});

Deno.test("TunnelDialer marks a dead peer down, fails fast while backed off, and recovers", async () => {
  const echo = startEchoServer("b1:");
  let now = 1_000_000;
  const first = new TunnelServer({
    listen: "127.0.0.1:0",
    nodeName: "b",
    key: TEST_KEY,
    loopbackEndpointsForTests: true, // every "node" is on this host's loopback
    log: nullLogger,
  });
  const port = first.addr.port;
  await first.close();
  const metrics = new MetricsRegistry();
  const dialer = new TunnelDialer({
    nodeName: "a",
    key: TEST_KEY,
    peers: { b: `127.0.0.1:${port}` },
    log: nullLogger,
    metrics,
    now: () => Date.now() + now - 1_000_000,
  });
  const target: DialTarget = {
    namespace: "default",
    service: "echo",
    port: servicePort(80),
    backend: { ip: "127.0.0.1", port: echo.port, nodeName: "b" },
  };
  let server: TunnelServer | null = null;
  try {
    await assert.rejects(dialer.dial(target, OPTS), (err: Error) => {
      assert.ok(err instanceof TunnelDialError);
      assert.equal(err.reason, "peer-unreachable");
      return true;
    });
    assert.equal(dialer.status()[0]?.up, false);
    assert.match(metrics.render(), /edgemesh_tunnel_peer_up\{peer="b"\} 0/);
    // While backed off, dials fail without touching the network.
    await assert.rejects(dialer.dial(target, OPTS), (err: Error) => {
      assert.ok(err instanceof TunnelDialError);
      assert.equal(err.reason, "peer-down");
      return true;
    });
    // After the backoff a trial dial goes out again (and fails again: delay doubles).
    now += 1000;
    await assert.rejects(dialer.dial(target, OPTS), (err: Error) => {
      assert.equal((err as TunnelDialError).reason, "peer-unreachable");
      return true;
    });
    const s = dialer.status()[0]!;
    assert.equal(s.retryAt! - (Date.now() + now - 1_000_000) > 1000, true);
    // The peer comes back on the same port: the next trial succeeds and it is up again.
    server = new TunnelServer({
      listen: `127.0.0.1:${port}`,
      nodeName: "b",
      key: TEST_KEY,
      loopbackEndpointsForTests: true, // every "node" is on this host's loopback
      log: nullLogger,
    });
    server.update(snapshotOf([{
      namespace: "default",
      name: "echo",
      port: 80,
      endpoints: [{ ip: "127.0.0.1", port: echo.port, nodeName: "b" }],
    }]));
    await assert.rejects(dialer.dial(target, OPTS), (err: Error) => {
      assert.equal((err as TunnelDialError).reason, "peer-down");
      return true;
    });
    now += 2000;
    const conn = await dialer.dial(target, OPTS);
    try {
      assert.equal(await roundTrip(conn, "back"), "b1:back");
    } finally {
      conn.close();
    }
    assert.equal(dialer.status()[0]?.up, true);
  } finally {
    dialer.close();
    await server?.close();
    await echo.close();
  }
});

Deno.test("a stalled stream does not block another stream on the same peer connection", async () => {
  await using p = startPair();
  const stalled = await p.dialer.dial(p.target(p.echo1), OPTS);
  // Write far more than every window and buffer on the path, never reading the echo back.
  const chunk = new Uint8Array(64 * 1024);
  let written = 0;
  const past = Promise.withResolvers<void>();
  const writer = (async () => {
    while (written < 1024 * 1024 * 1024) {
      await writeAll(stalled, chunk);
      written += chunk.length;
      // Past the HTTP/2 connection window (1 MiB): without per-stream flow control the whole
      // connection would now be blocked.
      if (written >= 2 * 1024 * 1024) past.resolve();
    }
  })();
  writer.catch(() => {});
  try {
    await past.promise;
    for (let i = 0; i < 3; i++) {
      const c = await p.dialer.dial(p.target(p.echo1), OPTS);
      try {
        assert.equal(await roundTrip(c, `ping ${i}`), `b1:ping ${i}`);
      } finally {
        c.close();
      }
    }
    // A bulk transfer on the same connection also flows.
    const bulk = await p.dialer.dial(p.target(p.echo1), OPTS);
    try {
      const size = 8 * 1024 * 1024;
      const reading = readExactly(bulk, 3 + size);
      await writeAll(bulk, new Uint8Array(size).fill(7));
      await bulk.closeWrite();
      const echoed = await reading;
      assert.equal(echoed.length, 3 + size);
      assert.equal(echoed[size + 2], 7);
    } finally {
      bulk.close();
    }
    assert.ok(written < 1024 * 1024 * 1024, "the stalled stream is still stalled");
  } finally {
    stalled.close();
    await writer.catch((err) => assert.ok(err instanceof Error));
  }
});

Deno.test("TunnelServer and TunnelDialer carry traffic over TLS", async (t) => {
  const pki = await makeTestPki(["127.0.0.1"]);
  try {
    const tls = { cert: pki.cert, key: pki.key, ca: pki.ca };
    await t.step("with the cluster CA", async () => {
      await using p = startPair({ tls });
      const conn = await p.dialer.dial(p.target(p.echo1), OPTS);
      try {
        assert.equal(await roundTrip(conn, "secret"), "b1:secret");
      } finally {
        conn.close();
      }
    });
    await t.step("a dialer without the CA does not trust the peer", async () => {
      const other = await makeTestPki(["127.0.0.1"]);
      try {
        await using p = startPair({
          tls,
          dialerTls: { cert: other.cert, key: other.key, ca: other.ca },
        });
        await assert.rejects(p.dialer.dial(p.target(p.echo1), OPTS), (err: Error) => {
          assert.ok(err instanceof TunnelDialError);
          assert.equal(err.reason, "peer-unreachable");
          return true;
        });
      } finally {
        await Deno.remove(other.dir, { recursive: true });
      }
    });
  } finally {
    await Deno.remove(pki.dir, { recursive: true });
  }
});

Deno.test("the tunnel carries streams over IPv6: peer [::1]:port, endpoint ::1, h2c and TLS", async (t) => {
  // Before: Deno's node:http2 sent `:authority: ::1:<port>` (brackets dropped) and Deno.serve
  // reset every stream with NGHTTP2_PROTOCOL_ERROR; the dialer now sets `:authority` itself.
  const roundTripVia = async (p: Pair) => {
    const conn = await p.dialer.dial(p.target(p.echo1), OPTS);
    try {
      assert.equal(await roundTrip(conn, "over v6"), "b1:over v6");
    } finally {
      conn.close();
    }
    const inbound = p.metricsB.counter("edgemesh_tunnel_streams_total", "");
    assert.equal(inbound.get({ direction: "in", result: "ok" }), 1);
  };
  for (const listen of ["[::1]:0", "[::]:0"]) {
    await t.step(`h2c, listening on ${listen}`, async () => {
      await using p = startPair({ host: "::1", listen });
      await roundTripVia(p);
      assert.deepEqual(p.dialer.status().map((s) => [s.address, s.state]), [
        [`[::1]:${p.server.addr.port}`, "up"],
      ]);
    });
  }
  await t.step("a peer learnt from a Node object whose InternalIP is IPv6", async () => {
    await using p = startPair({ host: "::1" });
    const dialer = new TunnelDialer({
      nodeName: "a",
      key: TEST_KEY,
      port: p.server.addr.port,
      log: nullLogger,
    });
    try {
      dialer.update(snapshotOf([], [{
        name: "b",
        addresses: [{ type: "Hostname", address: "b" }, { type: "InternalIP", address: "::1" }],
      }]));
      const conn = await dialer.dial(p.target(p.echo1), OPTS);
      try {
        assert.equal(await roundTrip(conn, "node"), "b1:node");
      } finally {
        conn.close();
      }
      assert.deepEqual(dialer.status().map((s) => [s.address, s.source]), [
        [`[::1]:${p.server.addr.port}`, "node"],
      ]);
    } finally {
      dialer.close();
    }
  });
  const pki = await makeTestPki(["::1"]);
  try {
    const tls = { cert: pki.cert, key: pki.key, ca: pki.ca };
    await t.step("TLS with a certificate for IP ::1", async () => {
      await using p = startPair({ host: "::1", tls });
      await roundTripVia(p);
    });
    await t.step("TLS: a certificate for 127.0.0.1 only does not pass for [::1]", async () => {
      const v4 = await makeTestPki(["127.0.0.1"]);
      try {
        const tls4 = { cert: v4.cert, key: v4.key, ca: v4.ca };
        await using p = startPair({ host: "::1", tls: tls4 });
        await assert.rejects(p.dialer.dial(p.target(p.echo1), OPTS), (err: Error) => {
          assert.ok(err instanceof TunnelDialError);
          assert.equal(err.reason, "peer-unreachable");
          return true;
        });
      } finally {
        await Deno.remove(v4.dir, { recursive: true });
      }
    });
  } finally {
    await Deno.remove(pki.dir, { recursive: true });
  }
});

Deno.test("TunnelServer.close() ends streams in flight", async () => {
  await using p = startPair();
  const conn: UpstreamConn = await p.dialer.dial(p.target(p.echo1), OPTS);
  try {
    assert.equal(new TextDecoder().decode(await readExactly(conn, 3)), "b1:");
    assert.equal(p.server.activeStreams, 1);
    const closing = p.server.close();
    await assert.rejects(conn.read(new Uint8Array(10)));
    await closing;
    assert.equal(p.server.activeStreams, 0);
  } finally {
    conn.close();
  }
});

Deno.test("TunnelDialer.dial() rejects within timeoutMs when the peer never answers", async () => {
  // A listener that accepts TCP but never speaks HTTP/2: a hung peer.
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const c of silent) accepted.push(c);
  })().catch(() => {});
  const dialer = new TunnelDialer({
    nodeName: "a",
    key: TEST_KEY,
    peers: { b: `127.0.0.1:${(silent.addr as Deno.NetAddr).port}` },
    log: nullLogger,
  });
  try {
    await assert.rejects(
      dialer.dial({
        namespace: "default",
        service: "echo",
        port: servicePort(80),
        backend: { ip: "127.0.0.1", port: 9, nodeName: "b" },
      }, { timeoutMs: 300 }),
      (err: Error) => {
        assert.ok(err instanceof TunnelDialError);
        assert.equal(err.reason, "timeout");
        return true;
      },
    );
    assert.equal(dialer.status()[0]?.up, false);
  } finally {
    dialer.close();
    silent.close();
    await accepting;
    for (const c of accepted) c.close();
  }
});
