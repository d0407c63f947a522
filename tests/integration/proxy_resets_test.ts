// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * How a proxied connection ends, with real sockets on loopback: a normal FIN passes through
 * (half-close included); every abnormal end — the endpoint resets, the client resets, drain
 * expiry, `close()`, a tunnel stream cut — reaches the other side as a reset on the `epoll`
 * engine, and as a FIN on `deno` (a `Deno.TcpConn` cannot reset, see lib/proxy/README.md).
 * The test's own ends are `FdConn`s on a reactor of the test, so they can reset.
 */
import assert from "node:assert/strict";
import { nullLogger } from "../../lib/log/mod.ts";
import { MetricsRegistry } from "../../lib/metrics/mod.ts";
import { Proxy, type ProxyEngine, type ProxyOptions } from "../../lib/proxy/mod.ts";
import type { Reactor } from "../../lib/sys/reactor.ts";
import type { FdConn } from "../../lib/sys/tcp.ts";
import { formatHostPort, TunnelDialer, TunnelServer } from "../../lib/tunnel/mod.ts";
import { loopbackVip, snapshotOf, type TestService } from "../_helpers/proxy_fixtures.ts";
import { connectNow, heldEndpoint, openReactor } from "../_helpers/reactor.ts";
import { TEST_KEY } from "../tunnel/_fixtures.ts";

const PORT = 18080;

/** What the far side sees of an abnormal end, per engine. */
const CUT: Readonly<Record<ProxyEngine, End>> = { epoll: "ConnectionReset", deno: "eof" };

type End = "eof" | "ConnectionReset";

interface Readable {
  read(p: Uint8Array): Promise<number | null>;
}

/** Reads `conn` until it ends: the text read on the way and how it ended. */
async function endOf(conn: Readable): Promise<{ text: string; end: End }> {
  let text = "";
  const buf = new Uint8Array(4096);
  try {
    for (let n; (n = await conn.read(buf)) !== null;) {
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    return { text, end: "eof" };
  } catch (err) {
    if (err instanceof Deno.errors.ConnectionReset) return { text, end: "ConnectionReset" };
    throw err;
  }
}

/** Reads exactly `text.length` bytes and checks they are `text`. */
async function expectText(conn: Readable, text: string): Promise<void> {
  const want = new TextEncoder().encode(text);
  const got = new Uint8Array(want.length);
  for (let off = 0; off < got.length;) {
    const n = await conn.read(got.subarray(off));
    assert.notEqual(n, null, `EOF before "${text}"`);
    off += n!;
  }
  assert.equal(new TextDecoder().decode(got), text);
}

async function send(conn: { write(p: Uint8Array): Promise<number> }, text: string): Promise<void> {
  const p = new TextEncoder().encode(text);
  for (let off = 0; off < p.length;) off += await conn.write(p.subarray(off));
}

function service(vip: string, port: number, nodeName: string | null = null): TestService {
  return {
    name: "cut",
    vip,
    ports: [{ name: "", port: PORT }],
    endpoints: [{ ports: { "": port }, nodeName }],
  };
}

/** A proxy on `engine` for one step, closed at its end (again: close() is idempotent). */
function proxyWith(
  engine: ProxyEngine,
  over: Partial<ProxyOptions> = {},
): Proxy & AsyncDisposable {
  const proxy = new Proxy({ nodeName: "node-a", log: nullLogger, engine, ...over });
  assert.equal(proxy.engine, engine);
  return Object.assign(proxy, { [Symbol.asyncDispose]: () => proxy.close() });
}

/** A client through `vip` whose connection reached the endpoint (one byte each way). */
async function connected(
  r: Reactor,
  vip: string,
  endpoint: { next(): Promise<FdConn> },
): Promise<{ client: FdConn; upstream: FdConn }> {
  const client = connectNow(r, vip, PORT);
  const upstream = await endpoint.next();
  await send(client, "?");
  await expectText(upstream, "?");
  await send(upstream, "!");
  await expectText(client, "!");
  return { client, upstream };
}

for (const engine of ["epoll", "deno"] as const) {
  Deno.test(`Proxy passes a FIN through and resets on every abnormal end [${engine}]`, async (t) => {
    await using r = openReactor();
    await using endpoint = heldEndpoint(r);

    await t.step(
      "endpoint FIN: the client reads EOF, its half-close still goes the other way",
      async () => {
        await using proxy = proxyWith(engine);
        const vip = loopbackVip();
        await proxy.update(snapshotOf(service(vip, endpoint.port)));
        const { client, upstream } = await connected(r, vip, endpoint);
        await send(upstream, "reply");
        upstream.shutdownWrite();
        assert.deepEqual(await endOf(client), { text: "reply", end: "eof" });
        await send(client, "more");
        client.shutdownWrite();
        assert.deepEqual(await endOf(upstream), { text: "more", end: "eof" });
        client.close();
        upstream.close();
      },
    );

    await t.step("endpoint resets mid-transfer: the client's read fails", async () => {
      const metrics = new MetricsRegistry();
      await using proxy = proxyWith(engine, { metrics });
      const vip = loopbackVip();
      await proxy.update(snapshotOf(service(vip, endpoint.port)));
      const { client, upstream } = await connected(r, vip, endpoint);
      await send(upstream, "partial");
      await expectText(client, "partial");
      upstream.reset();
      assert.deepEqual(await endOf(client), { text: "", end: CUT[engine] });
      client.close();
      await proxy.close(); // the connection's bytes are counted when it has ended
      assert.match(
        metrics.render(),
        /^edgemesh_proxy_bytes_total\{direction="out",service="default\/cut"\} 8$/m,
        "bytes moved before the reset are counted",
      );
    });

    await t.step("client resets: the endpoint's read fails", async () => {
      await using proxy = proxyWith(engine);
      const vip = loopbackVip();
      await proxy.update(snapshotOf(service(vip, endpoint.port)));
      const { client, upstream } = await connected(r, vip, endpoint);
      client.reset();
      assert.deepEqual(await endOf(upstream), { text: "", end: CUT[engine] });
      upstream.close();
    });

    await t.step("drain expiry of a deleted service resets both ends", async () => {
      await using proxy = proxyWith(engine, { drainGraceMs: 50 });
      const vip = loopbackVip();
      await proxy.update(snapshotOf(service(vip, endpoint.port)));
      const { client, upstream } = await connected(r, vip, endpoint);
      await proxy.update(snapshotOf());
      const ends = await Promise.all([endOf(client), endOf(upstream)]);
      assert.deepEqual(ends.map((e) => e.end), [CUT[engine], CUT[engine]]);
      client.close();
      upstream.close();
    });

    await t.step("close() (agent shutdown) resets both ends", async () => {
      await using proxy = proxyWith(engine);
      const vip = loopbackVip();
      await proxy.update(snapshotOf(service(vip, endpoint.port)));
      const { client, upstream } = await connected(r, vip, endpoint);
      await proxy.close();
      const ends = await Promise.all([endOf(client), endOf(upstream)]);
      assert.deepEqual(ends.map((e) => e.end), [CUT[engine], CUT[engine]]);
      client.close();
      upstream.close();
    });
  });
}

Deno.test("Proxy through the tunnel resets the client and the far endpoint when a stream is cut", async (t) => {
  await using r = openReactor();
  await using endpoint = heldEndpoint(r);
  const vip = loopbackVip();
  // One snapshot for both nodes: the endpoint is on node "b", the proxy on node "a".
  const snap = snapshotOf(service(vip, endpoint.port, "b"));
  /**
   * Node b's tunnel server with the agent's own endpoint dial (`tcpBackendDial()`: a
   * `Deno.TcpConn` it resets through FFI, lib/sys/tcp_reset.ts).
   */
  const startServer = () => {
    const server = new TunnelServer({
      listen: "127.0.0.1:0",
      nodeName: "b",
      key: TEST_KEY,
      loopbackEndpointsForTests: true,
      tls: null,
      log: nullLogger,
    });
    server.update(snap);
    return server;
  };
  /** Node a's proxy, dialling node b through its tunnel dialer. */
  const startProxy = async (server: TunnelServer) => {
    const dialer = new TunnelDialer({
      nodeName: "a",
      key: TEST_KEY,
      peers: { b: formatHostPort("127.0.0.1", server.addr.port) },
      log: nullLogger,
    });
    const proxy = new Proxy({
      nodeName: "a",
      log: nullLogger,
      engine: "epoll",
      remoteDialer: dialer,
    });
    await proxy.update(snap);
    return {
      proxy,
      async [Symbol.asyncDispose]() {
        await proxy.close();
        dialer.close();
        await server.close();
      },
    };
  };

  await t.step("endpoint resets: the client's read fails", async () => {
    const server = startServer();
    await using _ = await startProxy(server);
    const { client, upstream } = await connected(r, vip, endpoint);
    upstream.reset();
    assert.deepEqual(await endOf(client), { text: "", end: "ConnectionReset" });
    client.close();
  });

  await t.step("client resets: the far endpoint's read fails", async () => {
    const server = startServer();
    await using _ = await startProxy(server);
    const { client, upstream } = await connected(r, vip, endpoint);
    client.reset();
    assert.deepEqual(await endOf(upstream), { text: "", end: "ConnectionReset" });
    upstream.close();
  });

  await t.step("the far agent stops (its streams are cut): both ends see a reset", async () => {
    const server = startServer();
    await using _ = await startProxy(server);
    const { client, upstream } = await connected(r, vip, endpoint);
    const stopping = server.close();
    const ends = await Promise.all([endOf(client), endOf(upstream)]);
    assert.deepEqual(ends.map((e) => e.end), ["ConnectionReset", "ConnectionReset"]);
    await stopping;
    client.close();
    upstream.close();
  });
});
