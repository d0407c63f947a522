// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The proxy on two threads (main + one worker) with real sockets on loopback: the listeners
 * are shared with SO_REUSEPORT, so the kernel spreads connections over both threads.
 */
import assert from "node:assert/strict";
import { nullLogger } from "../../lib/log/mod.ts";
import { MetricsRegistry } from "../../lib/metrics/mod.ts";
import { runDeno } from "../_helpers/child.ts";
import { mainThreadBusy, ProxyThreads, type ProxyThreadsOptions } from "../../lib/proxy/mod.ts";
import {
  ask,
  echoServer,
  loopbackVip,
  nameServer,
  readAll,
  snapshotOf,
  type TestServer,
  type TestService,
  writeAll,
} from "../_helpers/proxy_fixtures.ts";
import { pollUntil } from "../_helpers/poll.ts";

const PORT = 18090;

async function startThreads(
  metrics: MetricsRegistry,
  over: Partial<ProxyThreadsOptions["worker"]> = {},
  more: Partial<ProxyThreadsOptions> = {},
): Promise<ProxyThreads & AsyncDisposable> {
  const threads = await ProxyThreads.start({
    ...more,
    threads: 2,
    proxy: { nodeName: "node-a", log: nullLogger, metrics },
    worker: {
      nodeName: "node-a",
      lbStrategy: "RoundRobin",
      dialTimeoutMs: 2000,
      dialAttempts: 3,
      ejectCooldownMs: 60_000,
      drainGraceMs: 1000,
      engine: "auto",
      logLevel: "info",
      tunnel: null,
      ...over,
    },
  });
  return Object.assign(threads, { [Symbol.asyncDispose]: () => threads.close() });
}

/** Connections the main thread accepted for `service` (its own series, workers excluded). */
function mainThreadConnections(metrics: MetricsRegistry, service: string): number {
  const family = metrics.snapshot().find((f) => f.name === "edgemesh_proxy_connections_total");
  const series = family?.series.find(([k]) => k.includes(`service="${service}"`));
  return series?.[1] ?? 0;
}

function totalConnections(metrics: MetricsRegistry, service: string): number {
  const m = metrics.render().match(
    new RegExp(`^edgemesh_proxy_connections_total\\{service="${service}"\\} (\\d+)$`, "m"),
  );
  return Number(m?.[1] ?? 0);
}

/** Serves service `name` on a fresh loopback VIP with one endpoint per backend port. */
async function serveService(
  threads: ProxyThreads,
  name: string,
  ports: number[],
  extra: Partial<TestService> = {},
): Promise<string> {
  const vip = loopbackVip();
  await threads.update(snapshotOf({
    name,
    vip,
    ports: [{ name: "http", port: PORT }],
    endpoints: ports.map((port) => ({ ports: { http: port } })),
    ...extra,
  }));
  return vip;
}

async function stopAll(servers: TestServer[]): Promise<void> {
  await Promise.all(servers.map((s) => s.stop()));
}

Deno.test("ProxyThreads spreads connections over threads and keeps strict round robin", async () => {
  const backends = ["alpha", "bravo"].map(nameServer);
  const metrics = new MetricsRegistry();
  await using threads = await startThreads(metrics);
  try {
    assert.equal(threads.threads, 2);
    const vip = await serveService(threads, "web", backends.map((b) => b.port));
    const names: string[] = [];
    for (let i = 0; i < 24; i++) names.push(await ask(vip, PORT));
    // One shared position: consecutive connections alternate, whichever thread took them.
    for (let i = 1; i < names.length; i++) {
      assert.notEqual(names[i], names[i - 1], `connection ${i}: ${names.join(",")}`);
    }
    await threads.refreshMetrics();
    assert.equal(totalConnections(metrics, "default/web"), 24, "worker series summed in");
    const onMain = mainThreadConnections(metrics, "default/web");
    // Each connection lands on either listener (a hash of its addresses): all 24 on one
    // thread has probability 2^-23.
    assert.ok(onMain > 0 && onMain < 24, `main thread took ${onMain} of 24`);
    assert.match(metrics.render(), /^edgemesh_proxy_listeners\{service="default\/web"\} 1$/m);
  } finally {
    await stopAll(backends);
  }
});

Deno.test("ProxyThreads: every thread falls back to serving-terminating endpoints within internalTrafficPolicy Local", async () => {
  // The snapshot reaches the workers by structured clone: the endpoint conditions and the
  // policy must arrive there too, or connections a worker takes would be reset.
  const local = nameServer("local-terminating");
  const remote = nameServer("remote-ready");
  const metrics = new MetricsRegistry();
  await using threads = await startThreads(metrics);
  try {
    const vip = loopbackVip();
    await threads.update(snapshotOf({
      name: "local",
      vip,
      ports: [{ name: "http", port: PORT }],
      internalTrafficPolicy: "Local",
      endpoints: [
        { ports: { http: remote.port }, nodeName: "node-b" },
        { ports: { http: local.port }, nodeName: "node-a", terminating: { serving: true } },
      ],
    }));
    const names = new Set<string>();
    for (let i = 0; i < 24; i++) names.add(await ask(vip, PORT));
    assert.deepEqual([...names], ["local-terminating"]);
    await threads.refreshMetrics();
    assert.equal(totalConnections(metrics, "default/local"), 24);
    const onMain = mainThreadConnections(metrics, "default/local");
    assert.ok(onMain > 0 && onMain < 24, `main thread took ${onMain} of 24: both threads served`);
  } finally {
    await stopAll([local, remote]);
  }
});

Deno.test("ProxyThreads leaves ClientIP-affinity services to the main thread", async () => {
  const backends = ["alpha", "bravo"].map(nameServer);
  const metrics = new MetricsRegistry();
  await using threads = await startThreads(metrics);
  try {
    const vip = await serveService(threads, "sticky", backends.map((b) => b.port), {
      sessionAffinity: { type: "ClientIP", timeoutSeconds: 600 },
    });
    const names = new Set<string>();
    for (let i = 0; i < 12; i++) names.add(await ask(vip, PORT));
    assert.equal(names.size, 1, "one client, one backend");
    await threads.refreshMetrics();
    assert.equal(mainThreadConnections(metrics, "default/sticky"), 12, "all on the main thread");
    assert.equal(totalConnections(metrics, "default/sticky"), 12);
  } finally {
    await stopAll(backends);
  }
});

Deno.test("ProxyThreads shares passive-health ejections between threads", async () => {
  const alive = nameServer("alive");
  const dead = nameServer("dead");
  const deadPort = dead.port;
  await dead.stop();
  const metrics = new MetricsRegistry();
  await using threads = await startThreads(metrics);
  try {
    const vip = await serveService(threads, "web", [alive.port, deadPort]);
    for (let i = 0; i < 8; i++) assert.equal(await ask(vip, PORT), "alive");
    // The round trip orders things: each worker's ejections reach the main thread (and are
    // passed on) before its answer does.
    await threads.refreshMetrics();
    assert.deepEqual(threads.ejected(), [`127.0.0.1:${deadPort}`]);
    const failures = () =>
      Number(
        metrics.render().match(
          /^edgemesh_proxy_dial_failures_total\{service="default\/web"\} (\d+)$/m,
        )?.[1] ?? 0,
      );
    const before = failures();
    assert.ok(before >= 1 && before <= 2, `one failure per thread at most, got ${before}`);
    for (let i = 0; i < 16; i++) assert.equal(await ask(vip, PORT), "alive");
    await threads.refreshMetrics();
    assert.equal(failures(), before, "no thread dialled the ejected endpoint again");
  } finally {
    await alive.stop();
  }
});

Deno.test("ProxyThreads.close() stops the workers and releases every listener", async () => {
  const backend = nameServer("only");
  const metrics = new MetricsRegistry();
  const threads = await startThreads(metrics);
  try {
    const vip = await serveService(threads, "web", [backend.port]);
    assert.equal(await ask(vip, PORT), "only");
    await threads.close();
    await threads.close(); // idempotent
    await assert.rejects(
      Deno.connect({ hostname: vip, port: PORT }),
      Deno.errors.ConnectionRefused,
    );
  } finally {
    await threads.close();
    await backend.stop();
  }
});

Deno.test("ProxyThreads.start() fails with the worker's reason and leaves nothing running", async () => {
  const metrics = new MetricsRegistry();
  await assert.rejects(
    startThreads(metrics, {
      tunnel: {
        nodeName: "node-a",
        tunnel: true,
        tunnelKeyFile: "/nonexistent/edgemesh-test.key",
        tunnelTLS: null,
        tunnelListen: "0.0.0.0:40001",
        peers: {},
      },
    }),
    (err: Error) => {
      assert.match(err.message, /^Cannot start proxy thread 1: .*edgemesh-test\.key/);
      return true;
    },
  );
  // The sanitizers check that the worker, its timers and the main proxy were all stopped.
});

Deno.test("ProxyThreads leaves edgemesh_tunnel_peer_up to the main thread (a 0/1 gauge is not summed)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "em-threads-" });
  try {
    await Deno.writeTextFile(`${dir}/key`, "k".repeat(32));
    const metrics = new MetricsRegistry();
    await using threads = await startThreads(metrics, {
      tunnel: {
        nodeName: "node-a",
        tunnel: true,
        tunnelKeyFile: `${dir}/key`,
        tunnelTLS: null,
        tunnelListen: "127.0.0.1:0",
        peers: { "node-b": "127.0.0.1:1" },
      },
    });
    await threads.refreshMetrics();
    const text = metrics.render();
    // The worker's tunnel families arrive (its dialer knows node-b), but not its peer gauge.
    assert.match(text, /^# TYPE edgemesh_tunnel_streams_active gauge$/m);
    assert.doesNotMatch(text, /edgemesh_tunnel_peer_up\{/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ProxyThreads adds each worker's V8 heap to edgemesh_process_heap_used_bytes", async () => {
  // No process metrics on the main registry: a series here can only be the worker's.
  const metrics = new MetricsRegistry();
  await using threads = await startThreads(metrics);
  await threads.refreshMetrics();
  const m = metrics.render().match(/^edgemesh_process_heap_used_bytes (\d+)$/m);
  assert.ok(m, "the worker reports its isolate's heap (Deno.memoryUsage() sees one isolate)");
  assert.ok(Number(m[1]) > 1024 * 1024, `a worker's heap is megabytes, got ${m[1]} bytes`);
});

Deno.test("ProxyThreads applies a burst of updates, the last one on every thread", async () => {
  const backend = nameServer("only");
  const metrics = new MetricsRegistry();
  await using threads = await startThreads(metrics);
  try {
    const services = Array.from({ length: 8 }, (_, i) => ({
      name: `s${i}`,
      vip: loopbackVip(),
      ports: [{ name: "http", port: PORT }],
      endpoints: [{ ports: { http: backend.port } }],
    }));
    // Not awaited one by one: a worker gets the newest queued snapshot, not each of them.
    await Promise.all(
      services.map((_, i) => threads.update(snapshotOf(...services.slice(0, i + 1)))),
    );
    for (const s of services) {
      for (let i = 0; i < 6; i++) assert.equal(await ask(s.vip, PORT), "only");
    }
    await threads.refreshMetrics();
    const main = services.reduce(
      (n, s) => n + mainThreadConnections(metrics, `default/${s.name}`),
      0,
    );
    assert.ok(main > 0 && main < 48, `main thread took ${main} of 48: both threads listen`);
  } finally {
    await backend.stop();
  }
});

/** A connection to `vip`:PORT (an echo service) past one round trip; left open. */
async function openEchoConn(vip: string): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: vip, port: PORT });
  await writeAll(conn, new TextEncoder().encode("ping"));
  const buf = new Uint8Array(4);
  let got = 0;
  while (got < 4) got += (await conn.read(buf.subarray(got))) ?? 4;
  return conn;
}

/** Half-closes each connection, reads the echo's end and closes it. */
async function finishAll(conns: Deno.TcpConn[]): Promise<void> {
  await Promise.all(conns.map(async (conn) => {
    await conn.closeWrite();
    await readAll(conn);
    conn.close();
  }));
}

Deno.test("ProxyThreads removes a deleted service's series once every thread has drained it; a worker's older report does not bring them back", async () => {
  const echo = echoServer();
  const metrics = new MetricsRegistry();
  await using threads = await startThreads(metrics, { drainGraceMs: 60_000 });
  const web = "default/web";
  const mine = () => metrics.render().split("\n").filter((l) => l.includes(`service="${web}"`));
  try {
    const svc: TestService = {
      name: "web",
      vip: loopbackVip(),
      ports: [{ name: "http", port: PORT }],
      endpoints: [{ ports: { http: echo.port } }],
    };
    const other: TestService = { ...svc, name: "other", vip: loopbackVip() };
    await threads.update(snapshotOf(svc, other));
    // One at a time, so each is known to be the main thread's (its count went up) or the
    // worker's; all 24 on one thread has probability 2^-23.
    const onMain: Deno.TcpConn[] = [];
    const onWorker: Deno.TcpConn[] = [];
    for (let i = 0; i < 24; i++) {
      const before = threads.main.activeConnections;
      const conn = await openEchoConn(svc.vip!);
      (threads.main.activeConnections > before ? onMain : onWorker).push(conn);
    }
    assert.ok(onMain.length > 0 && onWorker.length > 0, `main thread took ${onMain.length}`);

    await threads.update(snapshotOf(other));
    assert.deepEqual([...threads.retiring], [web]);
    // The main thread's connections end first: its series stay while the worker drains (the
    // sum must not drop), and this report of the worker's is the last one with web.
    await finishAll(onMain);
    await pollUntil(() => !threads.main.retiring.has(web), () => "the main thread to retire web");
    await threads.refreshMetrics();
    assert.deepEqual([...threads.retiring], [web], "the worker still drains web");
    assert.equal(totalConnections(metrics, web), 24, "both threads' series while one drains");

    await finishAll(onWorker);
    await pollUntil(() => threads.retiring.size === 0, () => "every thread to retire web");
    // No refresh: the worker's report above (with web) is what the render sums in.
    assert.deepEqual(mine(), [], "an older report of the worker does not bring web back");
    await threads.refreshMetrics();
    assert.deepEqual(mine(), [], "nor does the worker's next one");
    assert.match(metrics.render(), /^edgemesh_proxy_listeners\{service="default\/other"\} 1$/m);

    // Created again: every thread counts from 0.
    await threads.update(snapshotOf(svc, other));
    const conns: Deno.TcpConn[] = [];
    for (let i = 0; i < 24; i++) conns.push(await openEchoConn(svc.vip!));
    await finishAll(conns);
    await threads.refreshMetrics();
    assert.equal(totalConnections(metrics, web), 24);
    const again = mainThreadConnections(metrics, web);
    assert.ok(again > 0 && again < 24, `main thread took ${again} of 24`);
  } finally {
    await echo.stop();
  }
});

Deno.test("ProxyThreads with when-busy starts the workers only under load with traffic", async () => {
  const backend = nameServer("only");
  const metrics = new MetricsRegistry();
  let load = 0.9;
  let checks = 0;
  let checked = Promise.withResolvers<void>();
  await using threads = await startThreads(metrics, {}, {
    startWorkers: "when-busy",
    busyCheckMs: 5,
    busySampler: () => {
      if (++checks % 4 === 0) checked.resolve();
      return load;
    },
  });
  try {
    const vip = await serveService(threads, "web", [backend.port]);
    // Busy but no proxy traffic (say, DNS load): no workers.
    await checked.promise;
    assert.equal(threads.workersStarted, false);
    // Traffic but an idle main thread: no workers either.
    load = 0.1;
    assert.equal(await ask(vip, PORT), "only");
    checked = Promise.withResolvers();
    await checked.promise;
    assert.equal(threads.workersStarted, false);
    // Traffic and a busy main thread: the workers start and get the last snapshot.
    load = 0.9;
    const open = await Deno.connect({ hostname: vip, port: PORT });
    try {
      await threads.workersReady;
    } finally {
      open.close();
    }
    assert.equal(threads.workersStarted, true);
    for (let i = 0; i < 24; i++) assert.equal(await ask(vip, PORT), "only");
    await threads.refreshMetrics();
    const onMain = mainThreadConnections(metrics, "default/web");
    assert.equal(totalConnections(metrics, "default/web"), 26);
    assert.ok(onMain < 26, `the worker took some connections (main ${onMain} of 26)`);
  } finally {
    await backend.stop();
  }
});

Deno.test("mainThreadBusy() measures this thread's share of a core", () => {
  const sample = mainThreadBusy();
  assert.ok(sample !== null, "the C library is available with --allow-ffi");
  sample(); // starts a fresh interval
  const until = performance.now() + 200;
  let x = 0;
  while (performance.now() < until) x += Math.sqrt(x + 1);
  const share = sample();
  assert.ok(x > 0);
  assert.ok(share > 0.2 && share < 1.5, `busy loop measured as ${share} of a core`);
});

Deno.test("mainThreadBusy() is null without FFI permission (when-busy then starts at once)", async () => {
  const mod = new URL("../../lib/proxy/mod.ts", import.meta.url).href;
  const out = await runDeno(
    ["run", "--no-prompt", "--allow-read", "-"],
    `import { mainThreadBusy } from "${mod}";\nconsole.log(mainThreadBusy() === null);`,
  );
  assert.equal(out.code, 0, out.stderr);
  assert.equal(out.stdout.trim(), "true");
});
