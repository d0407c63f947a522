// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/** Tests of the metrics and health server over a real loopback socket. */
import assert from "node:assert/strict";
import {
  MetricsRegistry,
  parseListen,
  PROMETHEUS_CONTENT_TYPE,
  type Readiness,
  renderReadiness,
  serveMetrics,
} from "../../lib/metrics/mod.ts";
import { memoryLogger } from "../../lib/log/mod.ts";

function startServer(ready: () => Readiness) {
  const registry = new MetricsRegistry();
  const ac = new AbortController();
  const log = memoryLogger();
  const srv = serveMetrics({
    listen: "127.0.0.1:0",
    registry,
    ready,
    signal: ac.signal,
    log,
    version: "1.2.3-test",
    commit: "0123456789abcdef0123456789abcdef01234567",
  });
  const base = `http://127.0.0.1:${srv.addr.port}`;
  return {
    registry,
    base,
    log,
    srv,
    async [Symbol.asyncDispose]() {
      ac.abort();
      await srv.finished;
    },
  };
}

async function get(url: string, init?: RequestInit) {
  const res = await fetch(url, init);
  return { status: res.status, type: res.headers.get("content-type"), body: await res.text() };
}

Deno.test("serveMetrics() answers /healthz with 200 ok", async () => {
  await using s = startServer(() => ({ ready: true, checks: {} }));
  const r = await get(`${s.base}/healthz`);
  assert.equal(r.status, 200);
  assert.equal(r.body, "ok\n");
  assert.ok(s.log.lines.some((l) => l.includes("metrics listening")));
});

Deno.test("serveMetrics() answers /readyz 503 until every check passes, then 200", async () => {
  const checks = { device: true, listeners: false, control: true, sync: false };
  await using s = startServer(() => ({
    ready: Object.values(checks).every(Boolean),
    checks: { ...checks },
  }));
  const before = await get(`${s.base}/readyz`);
  assert.equal(before.status, 503);
  assert.equal(
    before.body,
    "[+]device ok\n[-]listeners failed\n[+]control ok\n[-]sync failed\nreadyz check failed\n",
  );
  checks.listeners = true;
  checks.sync = true;
  const after = await get(`${s.base}/readyz`);
  assert.equal(after.status, 200);
  assert.match(after.body, /\[\+\]sync ok\nreadyz check passed\n$/);
});

Deno.test("serveMetrics() reports not ready when the readiness callback throws", async () => {
  await using s = startServer(() => {
    throw new Error("boom");
  });
  const r = await get(`${s.base}/readyz`);
  assert.equal(r.status, 503);
  assert.match(r.body, /\[-\]evaluate failed/);
  assert.ok(s.log.lines.some((l) => l.includes("readiness check threw")));
});

Deno.test("serveMetrics() serves Prometheus text with process and component metrics", async () => {
  await using s = startServer(() => ({ ready: true, checks: {} }));
  s.registry.counter("edgemesh_proxy_connections_total", "Connections accepted").inc(
    { service: "default/nginx" },
    3,
  );
  const r = await get(`${s.base}/metrics`);
  assert.equal(r.status, 200);
  assert.equal(r.type, PROMETHEUS_CONTENT_TYPE);
  assert.match(r.body, /^# TYPE edgemesh_proxy_connections_total counter$/m);
  assert.match(r.body, /^edgemesh_proxy_connections_total\{service="default\/nginx"\} 3$/m);
  const rss = /^edgemesh_process_resident_memory_bytes (\d+)$/m.exec(r.body);
  assert.ok(rss && Number(rss[1]) > 1_000_000, "rss is reported in bytes");
  const start = /^edgemesh_process_start_time_seconds (\d+)$/m.exec(r.body);
  assert.ok(start && Math.abs(Number(start[1]) - Date.now() / 1000) < 24 * 3600);
  assert.match(r.body, /^edgemesh_build_info\{.*version="1\.2\.3-test".*\} 1$/m);
  assert.match(
    r.body,
    /^edgemesh_build_info\{.*commit="0123456789abcdef0123456789abcdef01234567".*\} 1$/m,
  );
  assert.match(r.body, /^# HELP edgemesh_process_resident_memory_bytes /m);
});

Deno.test("serveMetrics() answers unknown paths 404 and other methods 405", async () => {
  await using s = startServer(() => ({ ready: true, checks: {} }));
  assert.equal((await get(`${s.base}/nope`)).status, 404);
  const post = await get(`${s.base}/metrics`, { method: "POST", body: "x" });
  assert.equal(post.status, 405);
  const head = await fetch(`${s.base}/healthz`, { method: "HEAD" });
  await head.body?.cancel();
  assert.equal(head.status, 200);
});

Deno.test("serveMetrics() stops when the signal aborts", async () => {
  const ac = new AbortController();
  const srv = serveMetrics({
    listen: "127.0.0.1:0",
    registry: new MetricsRegistry(),
    ready: () => ({ ready: true, checks: {} }),
    signal: ac.signal,
    log: memoryLogger(),
  });
  ac.abort();
  await srv.finished;
  await assert.rejects(() => fetch(`http://127.0.0.1:${srv.addr.port}/healthz`), TypeError);
});

Deno.test("parseListen() splits host:port and rejects malformed addresses", async (t) => {
  const good: [string, { hostname: string; port: number }][] = [
    ["127.0.0.1:9560", { hostname: "127.0.0.1", port: 9560 }],
    ["0.0.0.0:0", { hostname: "0.0.0.0", port: 0 }],
    ["[::1]:9560", { hostname: "::1", port: 9560 }],
    ["localhost:80", { hostname: "localhost", port: 80 }],
  ];
  for (const [input, want] of good) {
    await t.step(input, () => assert.deepEqual(parseListen(input), want));
  }
  for (const bad of ["", "127.0.0.1", ":9560", "127.0.0.1:70000", "::1:9560", "h:p"]) {
    await t.step(`rejects "${bad}"`, () => {
      assert.throws(() => parseListen(bad), {
        name: "TypeError",
        message: `Cannot listen on "${bad}": expected host:port with a port 0-65535`,
      });
    });
  }
});

Deno.test("renderReadiness() lists checks in order with a verdict", () => {
  assert.equal(
    renderReadiness({ ready: true, checks: { a: true, b: true } }),
    "[+]a ok\n[+]b ok\nreadyz check passed\n",
  );
  assert.equal(renderReadiness({ ready: false, checks: {} }), "readyz check failed\n");
});

Deno.test("serveMetrics() names the address it cannot bind, keeping the error's class", async () => {
  await using first = startServer(() => ({ ready: true, checks: {} }));
  const listen = `127.0.0.1:${first.srv.addr.port}`;
  assert.throws(
    () =>
      serveMetrics({
        listen,
        registry: new MetricsRegistry(),
        ready: () => ({ ready: true, checks: {} }),
        signal: new AbortController().signal,
        log: memoryLogger(),
      }),
    (e: unknown) => {
      assert.ok(e instanceof Deno.errors.AddrInUse);
      assert.match(e.message, new RegExp(`^Cannot listen for metrics on "${listen}": .*in use`));
      return true;
    },
  );
});

Deno.test("serveMetrics() logs an IPv6 listen address in brackets, with or without the front", async (t) => {
  for (const front of [false, true]) {
    await t.step(front ? "front" : "plain", async () => {
      const dir = front ? await Deno.makeTempDir({ prefix: "em-metrics6-" }) : null;
      const ac = new AbortController();
      const log = memoryLogger();
      const srv = serveMetrics({
        listen: "[::1]:0",
        registry: new MetricsRegistry(),
        ready: () => ({ ready: true, checks: {} }),
        signal: ac.signal,
        log,
        ...(dir === null
          ? {}
          : { front: { socketPath: `${dir}/metrics.sock`, maxConnections: 4 } }),
      });
      try {
        const line = log.lines.map((l) => JSON.parse(l)).find((l) => l.msg === "metrics listening");
        // Was "::1:<port>", which reads as the address ::1:<port> without a port.
        assert.equal(line?.addr, `[::1]:${srv.addr.port}`);
      } finally {
        ac.abort();
        await srv.finished;
        if (dir !== null) await Deno.remove(dir, { recursive: true });
      }
    });
  }
});
