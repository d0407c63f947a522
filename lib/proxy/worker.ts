// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Entry point of a proxy worker thread (started by {@linkcode ProxyThreads}): the same
 * {@linkcode Proxy} as the main thread's, on the same `VIP:port`s with `SO_REUSEPORT`, fed the
 * same snapshots. Round-robin positions are shared memory; passive-health ejections and logs
 * go to the main thread; metrics are sent when asked for (with this isolate's V8 heap, which
 * the main thread's `Deno.memoryUsage()` does not see), and a deleted service's series are
 * removed when the main thread says so (every thread has drained it). Services with ClientIP
 * affinity are left to the main thread, which holds the affinity table.
 *
 * With the tunnel on, the worker keeps its own HTTP/2 connections to the peers (loaded only
 * then, with a dynamic import).
 * @module
 */
import { LOG_LEVELS, type LogFields, type Logger, type LogLevel } from "../log/mod.ts";
import { MetricsRegistry, registerHeapMetric } from "../metrics/mod.ts";
import type { Snapshot } from "../registry/model.ts";
import { cursorLookup } from "./cursors.ts";
import type { Dialer } from "./dialer.ts";
import { Proxy } from "./proxy.ts";
import type { FromWorker, ToWorker, WorkerSettings } from "./thread_messages.ts";

/** The part of the worker global scope used here. */
interface WorkerScope {
  postMessage(message: FromWorker): void;
  addEventListener(type: "message", fn: (e: MessageEvent<ToWorker>) => void): void;
  close(): void;
}

const scope = globalThis as unknown as WorkerScope;
const post = (m: FromWorker) => scope.postMessage(m);

/**
 * Families the main thread alone reports, not summed from the workers: the listeners (bound
 * there), and the tunnel peers' up gauge — each worker's dialer keeps its own view of its
 * peers, and a sum of 0/1 gauges over threads is no state; the main thread's is the one
 * `ctl status` shows.
 */
const MAIN_ONLY_METRICS = new Set(["edgemesh_proxy_listeners", "edgemesh_tunnel_peer_up"]);

/** Fields as plain data: errors become their messages (structured clone drops their class). */
function plain(fields: LogFields | undefined): LogFields | undefined {
  if (!fields) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    out[k] = v instanceof Error ? `${v.name}: ${v.message}` : v;
  }
  return out;
}

/** A logger that hands records to the main thread's logger (tagged with the thread). */
function forwardingLogger(level: LogLevel, thread: number, component = "proxy"): Logger {
  const min = LOG_LEVELS.indexOf(level);
  const emit = (l: LogLevel, msg: string, fields?: LogFields) => {
    if (LOG_LEVELS.indexOf(l) < min) return;
    post({ type: "log", level: l, msg, fields: { ...plain(fields), thread } });
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    with: (name) => forwardingLogger(level, thread, `${component}/${name}`),
    enabled: (l) => LOG_LEVELS.indexOf(l) >= min,
  };
}

interface Running {
  readonly proxy: Proxy;
  readonly metrics: MetricsRegistry;
  readonly cells: Int32Array;
  readonly tunnel: { update(s: Snapshot): void; close(): void } | null;
  /** Round-robin cells of the last snapshot's service ports. */
  cursors: ReturnType<typeof cursorLookup>;
}

async function start(thread: number, s: WorkerSettings, cells: Int32Array): Promise<Running> {
  const log = forwardingLogger(s.logLevel, thread);
  const metrics = new MetricsRegistry();
  // This isolate's heap, added to the main thread's (Deno.memoryUsage() sees one isolate).
  registerHeapMetric(metrics);
  let remoteDialer: ((local: Dialer) => Dialer) | undefined;
  let tunnel: Running["tunnel"] = null;
  if (s.tunnel !== null) {
    const t = await import("../tunnel/mod.ts");
    const dialer = await t.startTunnelDialer(s.tunnel, { log: log.with("tunnel"), metrics });
    if (dialer !== null) {
      tunnel = dialer;
      remoteDialer = (local) =>
        t.createRoutingDialer({ nodeName: s.nodeName, direct: local, tunnel: dialer });
    }
  }
  const holder: { running?: Running } = {};
  const proxy = new Proxy({
    nodeName: s.nodeName,
    log,
    metrics,
    lbStrategy: s.lbStrategy,
    dialTimeoutMs: s.dialTimeoutMs,
    dialAttempts: s.dialAttempts,
    ejectCooldownMs: s.ejectCooldownMs,
    drainGraceMs: s.drainGraceMs,
    engine: s.engine,
    ...(s.limits ? { limits: s.limits, thread } : {}),
    ...(remoteDialer ? { remoteDialer } : {}),
    reusePort: true,
    statelessOnly: true,
    cursorOf: (service, port) => holder.running!.cursors(service, port),
    onEject: (key, forMs) => post({ type: "eject", key, forMs }),
    // The main thread removes a service's series on every thread once all have retired it.
    onServicesRetired: (services) => post({ type: "retired", services }),
  });
  return holder.running = { proxy, metrics, cells, tunnel, cursors: cursorLookup(cells, []) };
}

let running: Running | null = null;
// Messages are handled one after the other (an update may wait for listeners to close).
let chain: Promise<void> = Promise.resolve();

async function handle(m: ToWorker): Promise<void> {
  switch (m.type) {
    case "init":
      try {
        running = await start(m.thread, m.settings, new Int32Array(m.cells));
        post({ type: "ready" });
      } catch (err) {
        post({ type: "failed", error: err instanceof Error ? err.message : String(err) });
      }
      return;
    case "update": {
      if (!running) return;
      running.cursors = cursorLookup(running.cells, m.slots);
      running.tunnel?.update(m.snapshot);
      await running.proxy.update(m.snapshot);
      const unbound = running.proxy.listeners().filter((l) => !l.bound).length;
      const retiring = [...running.proxy.retiring];
      post({ type: "updated", seq: m.seq, gen: m.gen, unbound, retiring });
      return;
    }
    case "forget":
      running?.proxy.forgetServices(m.services);
      return;
    case "eject":
      running?.proxy.applyEjection(m.key, m.forMs);
      return;
    case "stats": {
      const metrics = (running?.metrics.snapshot() ?? []).filter(
        (f) => !MAIN_ONLY_METRICS.has(f.name),
      );
      post({ type: "stats", seq: m.seq, metrics });
      return;
    }
    case "close":
      if (running) {
        await running.proxy.close();
        running.tunnel?.close();
        running = null;
      }
      post({ type: "closed" });
      scope.close();
      return;
  }
}

scope.addEventListener("message", (e) => {
  chain = chain.then(() => handle(e.data)).catch((err) => {
    post({
      type: "log",
      level: "error",
      msg: "Proxy worker failed",
      fields: plain({ error: err }),
    });
  });
});
