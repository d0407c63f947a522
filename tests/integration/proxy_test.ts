// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The proxy with real sockets on loopback: 127.0.0.0/8 is all local, so random 127.x.y.z
 * addresses serve as VIPs without any device.
 */
import assert from "node:assert/strict";
import { scaled } from "../_helpers/emulation.ts";
import { memoryLogger, nullLogger } from "../../lib/log/mod.ts";
import { MetricsRegistry } from "../../lib/metrics/mod.ts";
import { type Dialer, Proxy, type ProxyEngine, type ProxyOptions } from "../../lib/proxy/mod.ts";
import { EMPTY_SNAPSHOT } from "../../lib/registry/model.ts";
import { connectNow, openReactor } from "../_helpers/reactor.ts";
import {
  ask,
  connectEnding,
  echoServer,
  ending,
  loopbackVip,
  nameServer,
  readAll,
  snapshotOf,
  type TestServer,
  type TestService,
  writeAll,
} from "../_helpers/proxy_fixtures.ts";

/** Both socket engines run every test here: `epoll` (FFI) and `deno` (Deno's sockets). */
const ENGINES: readonly ProxyEngine[] = ["epoll", "deno"];

/** Registers `fn` once per engine, as "<name> [<engine>]". */
function engineTest(name: string, fn: (engine: ProxyEngine) => Promise<void>): void {
  for (const engine of ENGINES) Deno.test(`${name} [${engine}]`, () => fn(engine));
}

function proxyWith(
  engine: ProxyEngine,
  over: Partial<ProxyOptions> = {},
): Proxy & AsyncDisposable {
  const proxy = new Proxy({ nodeName: "node-a", log: nullLogger, engine, ...over });
  assert.equal(proxy.engine, engine);
  return Object.assign(proxy, { [Symbol.asyncDispose]: () => proxy.close() });
}

async function refused(vip: string, port: number): Promise<boolean> {
  try {
    const c = await Deno.connect({ hostname: vip, port });
    c.close();
    return false;
  } catch (err) {
    if (err instanceof Deno.errors.ConnectionRefused) return true;
    throw err;
  }
}

async function stopAll(servers: TestServer[]): Promise<void> {
  await Promise.all(servers.map((s) => s.stop()));
}

const PORT = 18080;

/** Service "echo" at `vip`:PORT with one endpoint, the echo backend on `echoPort`. */
function echoService(vip: string, echoPort: number): TestService {
  return {
    name: "echo",
    vip,
    ports: [{ name: "", port: PORT }],
    endpoints: [{ ports: { "": echoPort } }],
  };
}

engineTest(
  "Proxy balances VIP:port round-robin over three backends and fails over",
  async (engine) => {
    const backends = ["alpha", "bravo", "charlie"].map(nameServer);
    const metrics = new MetricsRegistry();
    // A frozen clock: the ejected backend stays ejected however slow this machine is.
    await using proxy = proxyWith(engine, { metrics, now: () => 0 });
    try {
      const vip = loopbackVip();
      await proxy.update(snapshotOf({
        name: "web",
        vip,
        ports: [{ name: "http", port: PORT }],
        endpoints: backends.map((b) => ({ ports: { http: b.port } })),
      }));
      assert.deepEqual(proxy.listeners().map((l) => [l.vip, l.port, l.bound]), [[vip, PORT, true]]);

      const first = [];
      for (let i = 0; i < 6; i++) first.push(await ask(vip, PORT));
      assert.deepEqual(first.slice(0, 3).sort(), ["alpha", "bravo", "charlie"]);
      assert.deepEqual(first.slice(3), first.slice(0, 3), "same order in the next round");

      await backends[1]!.stop();
      const after = [];
      for (let i = 0; i < 6; i++) after.push(await ask(vip, PORT));
      assert.ok(after.every((n) => n === "alpha" || n === "charlie"), `got ${after}`);
      assert.equal(new Set(after).size, 2);
      assert.ok(proxy.ejected().includes(`127.0.0.1:${backends[1]!.port}`));

      const text = metrics.render();
      assert.match(text, /^edgemesh_proxy_connections_total\{service="default\/web"\} 12$/m);
      assert.match(text, /^edgemesh_proxy_dial_failures_total\{service="default\/web"\} 1$/m);
      assert.match(text, /^edgemesh_proxy_listeners\{service="default\/web"\} 1$/m);
      assert.match(
        text,
        /^edgemesh_proxy_bytes_total\{direction="out",service="default\/web"\} \d+$/m,
      );
    } finally {
      await stopAll(backends);
    }
  },
);

engineTest(
  "Proxy follows service and port changes without touching other services",
  async (engine) => {
    const a = nameServer("a");
    const b = nameServer("b");
    await using proxy = proxyWith(engine);
    try {
      const vipA = loopbackVip();
      const vipB = loopbackVip();
      const svcB = {
        name: "b",
        vip: vipB,
        ports: [{ name: "", port: PORT }],
        endpoints: [{ ports: { "": b.port } }],
      };
      const svcA = (ports: number[]) => ({
        name: "a",
        vip: vipA,
        ports: ports.map((port) => ({ name: `p${port}`, port })),
        endpoints: [{ ports: Object.fromEntries(ports.map((p) => [`p${p}`, a.port])) }],
      });
      await proxy.update(snapshotOf(svcA([PORT]), svcB));
      assert.equal(await ask(vipA, PORT), "a");

      // Hold a connection to service b open across every update below.
      const held = await Deno.connect({ hostname: vipB, port: PORT });

      await phase("port added", async () => {
        await proxy.update(snapshotOf(svcA([PORT, PORT + 1]), svcB));
        assert.equal(await ask(vipA, PORT + 1), "a");
        assert.equal(await ask(vipA, PORT), "a");
      });
      await phase("port removed", async () => {
        await proxy.update(snapshotOf(svcA([PORT + 1]), svcB));
        assert.ok(await refused(vipA, PORT));
        assert.equal(await ask(vipA, PORT + 1), "a");
      });
      await phase("service deleted", async () => {
        await proxy.update(snapshotOf(svcB));
        assert.ok(await refused(vipA, PORT + 1));
        assert.deepEqual(proxy.listeners().map((l) => l.service), ["default/b"]);
      });
      assert.equal(await readAll(held), "b", "other service's connection unaffected");
      held.close();
      assert.equal(await ask(vipB, PORT), "b");
    } finally {
      await stopAll([a, b]);
    }
  },
);

/** Names a phase of a test in failures without t.step (keeps one fixture across phases). */
async function phase(name: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    throw new Error(`Phase "${name}" failed`, { cause: err });
  }
}

engineTest("Proxy keeps ClientIP affinity and honours the lb-strategy override", async (engine) => {
  const backends = ["x", "y", "z"].map(nameServer);
  await using proxy = proxyWith(engine, { lbStrategy: "Random", random: () => 0 });
  try {
    const sticky = loopbackVip();
    const rr = loopbackVip();
    const endpoints = backends.map((b) => ({ ports: { "": b.port } }));
    await proxy.update(snapshotOf(
      {
        name: "sticky",
        vip: sticky,
        ports: [{ name: "", port: PORT }],
        endpoints,
        sessionAffinity: { type: "ClientIP", timeoutSeconds: 10800 },
        lbStrategy: "RoundRobin",
      },
      {
        name: "rr",
        vip: rr,
        ports: [{ name: "", port: PORT }],
        endpoints,
        lbStrategy: "RoundRobin",
      },
      { name: "rnd", vip: loopbackVip(), ports: [{ name: "", port: PORT }], endpoints },
    ));
    const pinned = [];
    for (let i = 0; i < 5; i++) pinned.push(await ask(sticky, PORT));
    assert.equal(new Set(pinned).size, 1, `all from one backend: ${pinned}`);

    const balanced = [];
    for (let i = 0; i < 3; i++) balanced.push(await ask(rr, PORT));
    assert.deepEqual(balanced.sort(), ["x", "y", "z"], "annotation RoundRobin beats global Random");

    const rnd = proxy.listeners().find((l) => l.service === "default/rnd")!;
    const random = [];
    for (let i = 0; i < 3; i++) random.push(await ask(rnd.vip, PORT));
    assert.deepEqual(random, ["x", "x", "x"], "global Random with random() = 0 picks the first");
  } finally {
    await stopAll(backends);
  }
});

/**
 * How the proxy ends a client it cannot serve: `epoll` resets it (as kube-proxy's REJECT, the
 * client sees an error), `deno` can only close it (a Deno.TcpConn has no SO_LINGER).
 */
const REJECTED: Readonly<Record<ProxyEngine, string>> = { epoll: "ConnectionReset", deno: "eof" };

engineTest("Proxy resets a client at once when the service has no endpoints", async (engine) => {
  const metrics = new MetricsRegistry();
  await using proxy = proxyWith(engine, { metrics });
  await using client = openReactor();
  const vip = loopbackVip();
  await proxy.update(snapshotOf({
    name: "empty",
    vip,
    ports: [{ name: "", port: PORT }],
    endpoints: [{ ports: { "": 1 }, ready: false }],
  }));
  // Connected before the proxy can act: the reset shows on the client's read (ECONNRESET).
  assert.equal(await ending(connectNow(client, vip, PORT)), REJECTED[engine]);
  // Deno.connect may return before or after the reset arrives: ECONNRESET on connect or read.
  assert.equal(await connectEnding(vip, PORT), REJECTED[engine]);
  assert.equal(proxy.listeners()[0]!.endpoints, 0);
  assert.match(
    metrics.render(),
    /^edgemesh_proxy_no_endpoints_total\{service="default\/empty"\} 2$/m,
  );
});

engineTest(
  "Proxy reaches a serving-terminating endpoint while no endpoint is ready (KEP-1669)",
  async (engine) => {
    // A 1-replica Deployment mid rolling update: the old pod terminates but still serves, the
    // new one is not ready yet. kube-proxy (ProxyTerminatingEndpoints, GA in 1.28) keeps
    // sending traffic to the old pod; a reset here was the difference found.
    const old = nameServer("old");
    const next = nameServer("new");
    const stopped = nameServer("stopped");
    const metrics = new MetricsRegistry();
    await using proxy = proxyWith(engine, { metrics });
    try {
      const vip = loopbackVip();
      const service = (endpoints: TestService["endpoints"]) =>
        snapshotOf({ name: "web", vip, ports: [{ name: "http", port: PORT }], endpoints });
      const oldPod = { ports: { http: old.port }, terminating: { serving: true } };
      const stoppedPod = { ports: { http: stopped.port }, terminating: { serving: false } };
      await proxy.update(service([
        oldPod,
        stoppedPod,
        { ports: { http: next.port }, ready: false },
      ]));
      const during = [];
      for (let i = 0; i < 4; i++) during.push(await ask(vip, PORT));
      assert.deepEqual(during, ["old", "old", "old", "old"]);
      assert.equal(proxy.listeners()[0]!.endpoints, 1);

      // The new pod is ready: only it gets new connections, the terminating one none.
      await proxy.update(service([oldPod, stoppedPod, { ports: { http: next.port } }]));
      const after = [];
      for (let i = 0; i < 3; i++) after.push(await ask(vip, PORT));
      assert.deepEqual(after, ["new", "new", "new"]);
      assert.equal(stopped.accepted, 0, "a terminating endpoint that stopped serving gets nothing");
      assert.equal(old.accepted, 4);
      assert.doesNotMatch(
        metrics.render(),
        /edgemesh_proxy_no_endpoints_total\{service="default\/web"\} [1-9]/,
      );
    } finally {
      await stopAll([old, next, stopped]);
    }
  },
);

engineTest("Proxy resets a client when every dial attempt failed", async (engine) => {
  const metrics = new MetricsRegistry();
  const dialing = Promise.withResolvers<void>();
  const gate = Promise.withResolvers<void>();
  const refusing: Dialer = {
    dial: async (target) => {
      dialing.resolve();
      await gate.promise;
      throw new Deno.errors.ConnectionRefused(`${target.backend.ip}: refused (test)`);
    },
  };
  await using proxy = proxyWith(engine, { metrics, localDialer: refusing, dialAttempts: 3 });
  const vip = loopbackVip();
  await proxy.update(snapshotOf({
    name: "down",
    vip,
    ports: [{ name: "", port: PORT }],
    endpoints: [{ ip: "127.0.0.1", ports: { "": 1 } }, { ip: "127.0.0.2", ports: { "": 1 } }],
  }));
  const conn = await Deno.connect({ hostname: vip, port: PORT });
  await dialing.promise; // accepted, and held at its first dial until the client is connected
  gate.resolve();
  assert.equal(await ending(conn), REJECTED[engine]);
  const text = metrics.render();
  assert.match(text, /^edgemesh_proxy_dial_failures_total\{service="default\/down"\} 3$/m);
  assert.doesNotMatch(text, /edgemesh_proxy_no_endpoints_total\{service="default\/down"\} [1-9]/);
});

engineTest(
  "Proxy ends served connections with FIN, not RST (reply, half-close)",
  async (engine) => {
    const name = nameServer("alpha");
    const echo = echoServer();
    await using proxy = proxyWith(engine);
    try {
      const vipName = loopbackVip();
      const vipEcho = loopbackVip();
      await proxy.update(snapshotOf(
        {
          name: "name",
          vip: vipName,
          ports: [{ name: "", port: PORT }],
          endpoints: [{ ports: { "": name.port } }],
        },
        echoService(vipEcho, echo.port),
      ));
      /** Reads to EOF; a reset fails the test (readAll would take it for EOF). */
      const readToEof = async (conn: Deno.Conn) => {
        let text = "";
        const buf = new Uint8Array(256);
        for (let n; (n = await conn.read(buf)) !== null;) {
          text += new TextDecoder().decode(buf.subarray(0, n));
        }
        return text;
      };
      const reply = await Deno.connect({ hostname: vipName, port: PORT });
      try {
        assert.equal(await readToEof(reply), "alpha", "the endpoint closed: the client gets FIN");
      } finally {
        reply.close();
      }
      const half = await Deno.connect({ hostname: vipEcho, port: PORT });
      try {
        await writeAll(half, new TextEncoder().encode("ping"));
        await half.closeWrite();
        assert.equal(await readToEof(half), "ping", "half-close: the reply, then FIN");
      } finally {
        half.close();
      }
    } finally {
      await stopAll([name, echo]);
    }
  },
);

engineTest(
  "Proxy passes a half-closed 100 MiB upload through and returns every byte (10 MiB emulated)",
  async (engine) => {
    const echo = echoServer();
    await using proxy = proxyWith(engine);
    try {
      const vip = loopbackVip();
      await proxy.update(snapshotOf(echoService(vip, echo.port)));
      const conn = await Deno.connect({ hostname: vip, port: PORT });
      const chunk = new Uint8Array(1024 * 1024);
      for (let i = 0; i < chunk.length; i += 65536) {
        crypto.getRandomValues(chunk.subarray(i, i + 65536));
      }
      const chunks = scaled(100);
      const total = chunks * chunk.length;
      let sentSum = FNV_OFFSET;
      const send = (async () => {
        for (let i = 0; i < chunks; i++) {
          new DataView(chunk.buffer).setUint32(0, i); // make every MiB distinct
          sentSum = fnv1a(sentSum, chunk, chunk.length);
          await writeAll(conn, chunk);
        }
        await conn.closeWrite();
      })();
      let got = 0;
      let gotSum = FNV_OFFSET;
      const buf = new Uint8Array(256 * 1024);
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        gotSum = fnv1a(gotSum, buf, n);
        got += n;
      }
      await send;
      conn.close();
      assert.equal(got, total);
      assert.equal(gotSum, sentSum);
    } finally {
      await echo.stop();
    }
  },
);

const FNV_OFFSET = 0x811c9dc5;

/** FNV-1a over the first `n` bytes of `p`, continuing from `h` (a running checksum). */
function fnv1a(h: number, p: Uint8Array, n: number): number {
  for (let i = 0; i < n; i++) h = Math.imul(h ^ p[i]!, 0x01000193) >>> 0;
  return h;
}

engineTest(
  "Proxy keeps open connections when endpoints go, drains them when the service goes",
  async (engine) => {
    const echo = echoServer();
    const metrics = new MetricsRegistry();
    const active = () =>
      /^edgemesh_proxy_connections_active\{service="default\/echo"\} (\d+)$/m.exec(metrics.render())
        ?.[1];
    // Long enough for the round trips below on a loaded machine; the test waits on the close.
    await using proxy = proxyWith(engine, { drainGraceMs: 500, metrics });
    try {
      const vip = loopbackVip();
      const svc = echoService(vip, echo.port);
      await proxy.update(snapshotOf(svc));
      const conn = await Deno.connect({ hostname: vip, port: PORT });
      const roundTrip = async (text: string) => {
        await writeAll(conn, new TextEncoder().encode(text));
        const buf = new Uint8Array(64);
        const n = await conn.read(buf);
        return new TextDecoder().decode(buf.subarray(0, n ?? 0));
      };
      assert.equal(await roundTrip("one"), "one");
      assert.equal(active(), "1");

      await proxy.update(snapshotOf({ ...svc, endpoints: [] }));
      assert.equal(await roundTrip("two"), "two", "open connection survives endpoint removal");
      assert.equal(await connectEnding(vip, PORT), REJECTED[engine], "no endpoint: rejected");
      assert.equal(active(), "1", "the refused connection is no longer counted");

      await proxy.update(snapshotOf());
      assert.ok(await refused(vip, PORT), "listener closed at once");
      assert.equal(proxy.listeners().length, 0);
      assert.equal(await roundTrip("three"), "three", "still open during the grace period");
      assert.equal(active(), "1", "a draining connection is still active");
      // The grace timer closes the connection: the client sees EOF (or a reset).
      assert.equal(await readAll(conn), "");
      conn.close();
      await proxy.close(); // waits for the connection task
      assert.equal(active(), undefined, "no series once the service and its connections are gone");
    } finally {
      await echo.stop();
    }
  },
);

engineTest("Proxy retries a failed bind on the next update and reports it", async (engine) => {
  const metrics = new MetricsRegistry();
  const log = memoryLogger("info");
  await using proxy = proxyWith(engine, { metrics, log });
  const vip = loopbackVip();
  const squatter = Deno.listen({ hostname: vip, port: PORT });
  const snap = snapshotOf({ name: "late", vip, ports: [{ name: "", port: PORT }], endpoints: [] });
  await proxy.update(snap);
  const [st] = proxy.listeners();
  assert.equal(st!.bound, false);
  assert.match(st!.error!, /in use/i);
  assert.match(
    metrics.render(),
    /^edgemesh_proxy_listen_failures_total\{service="default\/late"\} 1$/m,
  );
  // The warning names the likely holder (a program on every address's port) and the retry.
  const warned = log.lines.filter((l) => /Cannot listen on service address/.test(l));
  assert.equal(warned.length, 1, log.lines.join("\n"));
  assert.match(
    warned[0]!,
    new RegExp(`"hint":"another program listens on port ${PORT} of every address`),
  );
  assert.match(warned[0]!, /tried again every 5 s while it is not open/);
  assert.equal(st!.failure, "bind", "a retry may fix it");
  squatter.close();
  await proxy.update(snap);
  assert.equal(proxy.listeners()[0]!.bound, true);
  assert.equal(proxy.listeners()[0]!.failure, null);
  assert.equal(await connectEnding(vip, PORT), REJECTED[engine]);
  // ... and the recovery ends it, once.
  await proxy.update(snap);
  const now = log.lines.filter((l) => /Listening on service address now/.test(l));
  assert.equal(now.length, 1, log.lines.join("\n"));
  assert.ok(now[0]!.includes(`"service":"default/late","addr":"${vip}:${PORT}"`), now[0]);
});

engineTest("Proxy.close() closes listeners and open connections", async (engine) => {
  const echo = echoServer();
  try {
    const proxy = proxyWith(engine);
    const vip = loopbackVip();
    await proxy.update(snapshotOf(echoService(vip, echo.port)));
    const conn = await Deno.connect({ hostname: vip, port: PORT });
    await writeAll(conn, new Uint8Array([1]));
    assert.equal(await conn.read(new Uint8Array(1)), 1);
    await proxy.close();
    assert.equal(await readAll(conn), "");
    conn.close();
    assert.ok(await refused(vip, PORT));
    await proxy.update(EMPTY_SNAPSHOT); // ignored after close
    assert.equal(proxy.listeners().length, 0);
  } finally {
    await echo.stop();
  }
});
