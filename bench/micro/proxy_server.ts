// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * A TCP forwarder for the proxy micro-benchmark (`bench/micro/proxy_short.sh`):
 *
 * - `proxy`: the real {@linkcode Proxy} with a metrics registry and an info-level logger, as the
 *   agent runs it, for one service `bench/web` on `--listen` with one endpoint `--backend`.
 * - `bare`: the smallest relay worth comparing with: accept loop, `Deno.connect`, two read/write
 *   loops with pooled 64 KiB buffers and `closeWrite()` at EOF. No balancing, no metrics.
 * - `bare-epoll`: the same on the epoll engine's sockets (`lib/sys/`) and `relay()`: the floor
 *   of what the proxy's own work adds to.
 *
 * Usage: `deno run -A bench/micro/proxy_server.ts <proxy|bare|bare-epoll> <listenHost:port> <backendHost:port>`
 * (env `MICRO_LIB=<dir>`: the proxy from another copy of `lib/`; `MICRO_NO_METRICS=1`: no registry;
 * `MICRO_THREADS=n`: the proxy on n threads; `MICRO_ENGINE=epoll|deno`: its sockets)
 * @module
 */
import { oneEndpointSnapshot } from "../lib/snapshot.ts";

// MICRO_LIB=<dir>: load the proxy from another copy of lib/ (e.g. `git archive HEAD~1 lib`),
// to compare two versions in one run.
const lib = Deno.env.get("MICRO_LIB");
const base = lib
  ? new URL(`file://${lib.replace(/\/$/, "")}/`)
  : new URL("../../lib/", import.meta.url);
const { createLogger } = await import(
  new URL("log/mod.ts", base).href
) as typeof import("../../lib/log/mod.ts");
const { MetricsRegistry } = await import(
  new URL("metrics/mod.ts", base).href
) as typeof import("../../lib/metrics/mod.ts");
const proxyMod = await import(
  new URL("proxy/mod.ts", base).href
) as typeof import("../../lib/proxy/mod.ts");
const { closeQuietly, Proxy } = proxyMod;

function hostPort(s: string | undefined): { hostname: string; port: number } {
  const i = s?.lastIndexOf(":") ?? -1;
  if (!s || i < 0) throw new TypeError(`Expected "host:port", got "${s}"`);
  return { hostname: s.slice(0, i), port: Number(s.slice(i + 1)) };
}

const [mode, listenArg, backendArg] = Deno.args;
// For --cpu-prof: the profile is written on a normal exit.
const exitAfter = Number(Deno.env.get("MICRO_EXIT_AFTER_MS") ?? 0);
if (exitAfter > 0) setTimeout(() => Deno.exit(0), exitAfter);
const listen = hostPort(listenArg);
const backend = hostPort(backendArg);

if (mode === "proxy") {
  const snapshot = oneEndpointSnapshot([{
    namespace: "bench",
    name: "web",
    vip: listen.hostname,
    port: listen.port,
    targetPort: backend.port,
    endpointIp: backend.hostname,
  }]);
  const log = createLogger({ level: "info", write: () => {} });
  const metrics = Deno.env.get("MICRO_NO_METRICS") ? undefined : new MetricsRegistry();
  // MICRO_THREADS=n: the proxy on n threads (ProxyThreads); libs without it run one.
  const threads = Number(Deno.env.get("MICRO_THREADS") ?? 1);
  // MICRO_ENGINE=epoll|deno|auto: the proxy's sockets (config proxyEngine).
  const engine = (Deno.env.get("MICRO_ENGINE") ?? "auto") as "auto" | "epoll" | "deno";
  const mod = proxyMod as Partial<typeof import("../../lib/proxy/mod.ts")>;
  if (mod.ProxyThreads) {
    const p = await mod.ProxyThreads.start({
      threads,
      proxy: { nodeName: "bench", log, engine, ...(metrics ? { metrics } : {}) },
      worker: {
        nodeName: "bench",
        lbStrategy: "RoundRobin",
        dialTimeoutMs: 2000,
        dialAttempts: 3,
        ejectCooldownMs: 10_000,
        drainGraceMs: 10_000,
        engine,
        logLevel: "info",
        tunnel: null,
      },
    });
    await p.update(snapshot);
  } else {
    const proxy = new Proxy({ nodeName: "bench", log, ...(metrics ? { metrics } : {}) });
    await proxy.update(snapshot);
  }
} else if (mode === "bare") {
  const free: Uint8Array[] = [];
  const pump = async (src: Deno.TcpConn, dst: Deno.TcpConn) => {
    const buf = free.pop() ?? new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await src.read(buf);
        if (n === null) break;
        let w = 0;
        while (w < n) w += await dst.write(buf.subarray(w, n));
      }
      await dst.closeWrite();
    } catch {
      closeQuietly(src);
      closeQuietly(dst);
    } finally {
      free.push(buf);
    }
  };
  const handle = async (c: Deno.TcpConn) => {
    let u: Deno.TcpConn;
    try {
      u = await Deno.connect(backend);
    } catch {
      c.close();
      return;
    }
    await Promise.all([pump(c, u), pump(u, c)]);
    closeQuietly(c);
    closeQuietly(u);
  };
  const l = Deno.listen(listen);
  for await (const c of l) handle(c);
} else if (mode === "bare-epoll") {
  // The floor of the epoll engine: accept, connect, relay() — no balancing, no metrics.
  const { libc } = await import(
    new URL("sys/libc.ts", base).href
  ) as typeof import("../../lib/sys/libc.ts");
  const { Reactor } = await import(
    new URL("sys/reactor.ts", base).href
  ) as typeof import("../../lib/sys/reactor.ts");
  const { FdListener } = await import(
    new URL("sys/tcp_listener.ts", base).href
  ) as typeof import("../../lib/sys/tcp_listener.ts");
  const { connectTcp } = await import(
    new URL("sys/tcp_dial.ts", base).href
  ) as typeof import("../../lib/sys/tcp_dial.ts");
  const c = libc();
  if (c === null) throw new Error("bare-epoll needs --allow-ffi");
  const reactor = Reactor.open(c);
  const buffer = new proxyMod.RelayBuffer();
  const l = new FdListener(reactor, listen.hostname, listen.port);
  await l.serve((client) => {
    connectTcp(reactor, backend.hostname, backend.port, 2000).conn.then(
      (upstream) => proxyMod.relay(client, upstream, buffer),
      () => client.close(),
    );
  }, () => {});
} else {
  throw new TypeError(`Unknown mode "${mode}": expected "proxy", "bare" or "bare-epoll"`);
}
