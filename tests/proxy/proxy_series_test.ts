// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * A deleted service's metric series: kept while its connections drain (their last byte counts
 * included), then removed, so `/metrics` does not grow with every service a node ever saw; a
 * service created again under the same name starts its counters from 0.
 */
import assert from "node:assert/strict";
import { nullLogger } from "../../lib/log/mod.ts";
import { MetricsRegistry } from "../../lib/metrics/mod.ts";
import { type Dialer, Proxy, type ProxyOptions, type UpstreamConn } from "../../lib/proxy/mod.ts";
import {
  connectEnding,
  loopbackVip,
  readAll,
  snapshotOf,
  type TestService,
  writeAll,
} from "../_helpers/proxy_fixtures.ts";
import { pollUntil } from "../_helpers/poll.ts";

const PORT = 18094;
const HELLO = new TextEncoder().encode("hello");

/**
 * A dialer whose upstream says `hello`, takes whatever it is sent, and ends once the client has
 * half-closed (or the proxy closes it: the drain's end).
 */
function heldDialer(): Dialer {
  return {
    dial() {
      let greeted = false;
      const end = Promise.withResolvers<null>();
      const conn: UpstreamConn = {
        read(p) {
          if (greeted) return end.promise;
          greeted = true;
          p.set(HELLO);
          return Promise.resolve(HELLO.length);
        },
        write: (p) => Promise.resolve(p.length),
        closeWrite: () => {
          end.resolve(null);
          return Promise.resolve();
        },
        close: () => end.resolve(null),
      };
      return Promise.resolve(conn);
    },
  };
}

function service(name: string, vip: string): TestService {
  return { name, vip, ports: [{ name: "", port: PORT }], endpoints: [{ ports: { "": 80 } }] };
}

function proxyWith(metrics: MetricsRegistry, over: Partial<ProxyOptions> = {}) {
  const proxy = new Proxy({
    nodeName: "node-a",
    log: nullLogger,
    metrics,
    localDialer: heldDialer(),
    drainGraceMs: 60_000,
    ...over,
  });
  return Object.assign(proxy, { [Symbol.asyncDispose]: () => proxy.close() });
}

/** The rendered series of `service` (`family{labels} value` lines). */
function seriesOf(metrics: MetricsRegistry, service: string): string[] {
  return metrics.render().split("\n").filter((l) => l.includes(`service="${service}"`));
}

/** A connection through the proxy that has read `hello` and sent `sent`; still open. */
async function openConn(vip: string, sent: string): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: vip, port: PORT });
  const buf = new Uint8Array(HELLO.length);
  let got = 0;
  while (got < buf.length) {
    const n = await conn.read(buf.subarray(got));
    assert.ok(n !== null, "the upstream's greeting");
    got += n;
  }
  await writeAll(conn, new TextEncoder().encode(sent));
  return conn;
}

/** Half-closes, reads to the end and closes: the connection ends normally. */
async function finish(conn: Deno.TcpConn): Promise<void> {
  await conn.closeWrite();
  await readAll(conn);
  conn.close();
}

Deno.test("Proxy removes a deleted service's series once its last connection has ended, and a re-created one starts from 0", async (t) => {
  for (const ending of ["client", "drain timer"] as const) {
    await t.step(`connection ended by the ${ending}`, async () => {
      const metrics = new MetricsRegistry();
      await using proxy = proxyWith(metrics, {
        drainGraceMs: ending === "client" ? 60_000 : 300,
      });
      const web = service("web", loopbackVip());
      const other = service("other", loopbackVip());
      await proxy.update(snapshotOf(web, other));
      const conn = await openConn(web.vip!, "abc");

      await proxy.update(snapshotOf(other));
      assert.deepEqual([...proxy.retiring], ["default/web"]);
      assert.deepEqual(seriesOf(metrics, "default/web"), [
        'edgemesh_proxy_connections_total{service="default/web"} 1',
        'edgemesh_proxy_connections_active{service="default/web"} 1',
      ], "kept while the connection drains");

      if (ending === "client") await finish(conn);
      else {
        assert.equal(await readAll(conn), "", "the drain's end closes the connection");
        conn.close();
      }
      await pollUntil(
        () => seriesOf(metrics, "default/web").length === 0,
        () => `no series of default/web in\n${metrics.render()}`,
      );
      assert.deepEqual([...proxy.retiring], []);
      assert.equal(seriesOf(metrics, "default/other").length, 2, "other services keep theirs");

      // The same name again: new counters.
      await proxy.update(snapshotOf(web, other));
      await finish(await openConn(web.vip!, "abcdefg"));
      await pollUntil(
        () => seriesOf(metrics, "default/web").some((l) => l.includes('direction="in"')),
        () => "the second connection's bytes",
      );
      assert.deepEqual(seriesOf(metrics, "default/web").sort(), [
        'edgemesh_proxy_bytes_total{direction="in",service="default/web"} 7',
        'edgemesh_proxy_bytes_total{direction="out",service="default/web"} 5',
        'edgemesh_proxy_connections_active{service="default/web"} 0',
        'edgemesh_proxy_connections_total{service="default/web"} 1',
        'edgemesh_proxy_listeners{service="default/web"} 1',
      ]);
    });
  }
});

Deno.test("Proxy tells onServicesRetired once the last bytes are counted; forgetServices() removes the series", async () => {
  const metrics = new MetricsRegistry();
  const retired = Promise.withResolvers<string[]>();
  await using proxy = proxyWith(metrics, { onServicesRetired: (s) => retired.resolve(s) });
  const web = service("web", loopbackVip());
  await proxy.update(snapshotOf(web));
  const conn = await openConn(web.vip!, "abc");
  await proxy.update(snapshotOf());
  await writeAll(conn, new TextEncoder().encode("defg"));
  await finish(conn);
  assert.deepEqual(await retired.promise, ["default/web"]);
  // Told after the connection's bytes were added, and the owner decides when they go.
  assert.deepEqual(seriesOf(metrics, "default/web").sort(), [
    'edgemesh_proxy_bytes_total{direction="in",service="default/web"} 7',
    'edgemesh_proxy_bytes_total{direction="out",service="default/web"} 5',
    'edgemesh_proxy_connections_total{service="default/web"} 1',
  ]);
  proxy.forgetServices(["default/web"]);
  assert.deepEqual(seriesOf(metrics, "default/web"), []);
});

Deno.test("Proxy.forgetServices() leaves a service in the snapshot, or still draining, alone", async () => {
  const metrics = new MetricsRegistry();
  await using proxy = proxyWith(metrics, { onServicesRetired: () => {} });
  const web = service("web", loopbackVip());
  const api = service("api", loopbackVip());
  await proxy.update(snapshotOf(web, api));
  await finish(await openConn(web.vip!, "x"));
  const conn = await openConn(api.vip!, "y");
  await proxy.update(snapshotOf(web));
  proxy.forgetServices(["default/web", "default/api"]);
  assert.equal(
    seriesOf(metrics, "default/web").filter((l) => l.includes("connections_total")).length,
    1,
    "in the snapshot",
  );
  assert.equal(
    seriesOf(metrics, "default/api").filter((l) => l.includes("connections_total")).length,
    1,
    "still draining",
  );
  await finish(conn);
});

Deno.test("Proxy keeps the series of a service that is back before its connections ended", async () => {
  const metrics = new MetricsRegistry();
  await using proxy = proxyWith(metrics);
  const web = service("web", loopbackVip());
  await proxy.update(snapshotOf(web));
  const conn = await openConn(web.vip!, "abc");
  await proxy.update(snapshotOf());
  await proxy.update(snapshotOf(web));
  assert.deepEqual([...proxy.retiring], [], "no longer retiring");
  await finish(conn);
  await finish(await openConn(web.vip!, "d"));
  await pollUntil(
    () => metrics.render().includes('{direction="in",service="default/web"} 4'),
    () => `both connections' bytes in\n${metrics.render()}`,
  );
  assert.ok(
    seriesOf(metrics, "default/web").includes(
      'edgemesh_proxy_connections_total{service="default/web"} 2',
    ),
    "the counters went on",
  );
});

Deno.test("Proxy removes every series of a deleted service without connections at the update", async () => {
  const metrics = new MetricsRegistry();
  const refusing: Dialer = { dial: () => Promise.reject(new Error("refused (test)")) };
  await using proxy = proxyWith(metrics, { localDialer: refusing, dialAttempts: 1 });
  const down = service("down", loopbackVip());
  const empty: TestService = { ...service("empty", loopbackVip()), endpoints: [] };
  const taken: TestService = service("taken", loopbackVip());
  // Its port is taken: the bind fails and is counted.
  using _squatter = Deno.listen({ hostname: taken.vip!, port: PORT });
  await proxy.update(snapshotOf(down, empty, taken));
  await connectEnding(down.vip!, PORT);
  await connectEnding(empty.vip!, PORT);
  const families = (name: string) =>
    seriesOf(metrics, `default/${name}`).map((l) => l.slice(0, l.indexOf("{"))).sort();
  await pollUntil(
    () => families("down").includes("edgemesh_proxy_dial_failures_total"),
    () => "the dial failure",
  );
  assert.deepEqual(families("down"), [
    "edgemesh_proxy_connections_active",
    "edgemesh_proxy_connections_total",
    "edgemesh_proxy_dial_failures_total",
    "edgemesh_proxy_listeners",
  ]);
  assert.deepEqual(families("empty"), [
    "edgemesh_proxy_connections_active",
    "edgemesh_proxy_connections_total",
    "edgemesh_proxy_listeners",
    "edgemesh_proxy_no_endpoints_total",
  ]);
  assert.deepEqual(families("taken"), ["edgemesh_proxy_listen_failures_total"]);

  await proxy.update(snapshotOf());
  assert.deepEqual([...proxy.retiring], []);
  assert.doesNotMatch(metrics.render(), /service=/, "no per-service series left");
});
