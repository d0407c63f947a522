// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The metrics and health HTTP server on `metricsListen`: `/healthz`, `/readyz`, `/metrics`.
 *
 * Probes follow the Kubernetes API server's conventions (`/healthz` = the process answers,
 * `/readyz` = every readiness check passes, with `[+]name ok` / `[-]name failed` lines), and
 * `/metrics` serves the Prometheus text exposition format 0.0.4.
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { bindError, formatHostPort, isHostPort, readHostPort } from "../netaddr/mod.ts";
import { HttpFront } from "../sys/mod.ts";
import type { MetricsRegistry } from "./registry.ts";

/** The content type of the Prometheus text exposition format 0.0.4. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** The result of one readiness evaluation, e.g. `{ready: false, checks: {device: true, sync: false}}`. */
export interface Readiness {
  readonly ready: boolean;
  /** Each named check and whether it passes; listed on `/readyz` in insertion order. */
  readonly checks: Readonly<Record<string, boolean>>;
}

/** Options of {@linkcode serveMetrics}. */
export interface ServeMetricsOptions {
  /** `host:port` (IPv6 as `[::1]:9560`); port 0 picks a free port (tests). */
  readonly listen: string;
  /** Rendered on `/metrics` after the process metrics are registered into it. */
  readonly registry: MetricsRegistry;
  /** Evaluated on every `/readyz` request; an exception counts as not ready. */
  readonly ready: () => Readiness;
  /** Aborting stops the server; `finished` resolves once it has closed. */
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** Reported as `edgemesh_build_info{version}`. @default "unknown" */
  readonly version?: string;
  /** Reported as `edgemesh_build_info{commit}`: the build's git commit. @default "" (unknown) */
  readonly commit?: string;
  /** Awaited before each `/metrics` render (e.g. proxy worker threads report their series). */
  readonly refresh?: () => Promise<void>;
  /**
   * Serve through a connection-capping front (`lib/sys/http_front.ts`): `Deno.serve` listens on
   * `socketPath` (a Unix socket), the front on `listen`. Without: `Deno.serve` on `listen`.
   */
  readonly front?: {
    readonly socketPath: string;
    readonly maxConnections: number;
    /** @default {METRICS_FIRST_BYTE_TIMEOUT_MS} */
    readonly firstByteTimeoutMs?: number;
    /** @default {METRICS_IDLE_TIMEOUT_MS} */
    readonly idleTimeoutMs?: number;
    readonly checkEveryMs?: number;
  };
}

/** The mode of the Unix socket behind the front: owner only, as the control socket's (0600). */
export const METRICS_SOCKET_MODE = 0o600;

/** A connection that has not had a reply 10 s after it opened is closed (partial request). */
export const METRICS_FIRST_BYTE_TIMEOUT_MS = 10_000;
/** A keep-alive connection idle this long is closed. */
export const METRICS_IDLE_TIMEOUT_MS = 60_000;

/** A running metrics server. */
export interface MetricsServer {
  /** The bound address (the real port when `listen` asked for port 0). */
  readonly addr: Deno.NetAddr;
  /** Resolves when the server has stopped (after `signal` aborts). */
  readonly finished: Promise<void>;
}

/**
 * Splits `host:port` (or `[v6]:port`) into its parts.
 * @throws {TypeError} when the address is not `host:port` with a port 0–65535
 */
export function parseListen(listen: string): { hostname: string; port: number } {
  const hp = readHostPort(listen, { minPort: 0 });
  if (!isHostPort(hp)) {
    throw new TypeError(`Cannot listen on "${listen}": expected host:port with a port 0-65535`);
  }
  return { hostname: hp.host, port: hp.port };
}

/**
 * Registers `edgemesh_process_heap_used_bytes` into `registry` (idempotent): the V8 heap in use
 * by the isolate that calls it. `Deno.memoryUsage()` sees only its own isolate, so the main
 * thread's figure left out every proxy worker thread's heap; each worker registers this gauge on
 * its own registry too, and `/metrics` shows the sum over the main thread and the workers (the
 * workers' families are added to the main thread's).
 */
export function registerHeapMetric(registry: MetricsRegistry): void {
  registry
    .gauge(
      "edgemesh_process_heap_used_bytes",
      "V8 heap in use by the agent in bytes (the main thread's and the proxy worker threads' summed)",
    )
    .collect(() => [[undefined, Deno.memoryUsage().heapUsed]]);
}

/**
 * Registers the process-level families into `registry` (idempotent): resident memory from
 * `Deno.memoryUsage().rss`, heap in use, the process start time (Prometheus'
 * `process_start_time_seconds` convention: Unix seconds) and `edgemesh_build_info` (constant 1,
 * the `*_info` convention for labels that describe the build: `version`, `commit` — the git
 * commit, empty when unknown, as for an absent label in PromQL — `deno` and `arch`).
 */
export function registerProcessMetrics(
  registry: MetricsRegistry,
  version = "unknown",
  commit = "",
): void {
  registry
    .gauge("edgemesh_process_resident_memory_bytes", "Resident set size of the agent in bytes")
    .collect(() => [[undefined, Deno.memoryUsage().rss]]);
  registerHeapMetric(registry);
  registry
    .gauge("edgemesh_process_start_time_seconds", "Start time of the agent since the Unix epoch")
    .set(undefined, Math.floor(performance.timeOrigin / 1000));
  registry
    .gauge("edgemesh_build_info", "Build of the running agent; the value is always 1")
    .set({ version, commit, deno: Deno.version.deno, arch: Deno.build.arch }, 1);
}

/** Renders `/readyz`'s body: one `[+]name ok` / `[-]name failed` line per check, then a verdict. */
export function renderReadiness(r: Readiness): string {
  const lines = Object.entries(r.checks).map(([name, ok]) =>
    ok ? `[+]${name} ok` : `[-]${name} failed`
  );
  lines.push(r.ready ? "readyz check passed" : "readyz check failed");
  return lines.join("\n") + "\n";
}

function text(body: string, status = 200, contentType = "text/plain; charset=utf-8"): Response {
  return new Response(body, {
    status,
    headers: { "content-type": contentType, "cache-control": "no-store" },
  });
}

/** The request handler, separate from the socket so tests can call it directly. */
export function metricsHandler(
  options: Pick<ServeMetricsOptions, "registry" | "ready" | "log">,
): (req: Request) => Response {
  const { registry, ready, log } = options;
  return (req) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    const path = new URL(req.url).pathname;
    switch (path) {
      case "/healthz":
        return text("ok\n");
      case "/readyz": {
        let r: Readiness;
        try {
          r = ready();
        } catch (err) {
          log.warn("readiness check threw", { error: err });
          r = { ready: false, checks: { evaluate: false } };
        }
        return text(renderReadiness(r), r.ready ? 200 : 503);
      }
      case "/metrics":
        return text(registry.render(), 200, PROMETHEUS_CONTENT_TYPE);
      default:
        return text("not found\n", 404);
    }
  };
}

/** Runs `refresh` before a `/metrics` request is handled (failures only logged by it). */
function withRefresh(
  handler: (req: Request) => Response,
  refresh: (() => Promise<void>) | undefined,
): (req: Request) => Response | Promise<Response> {
  if (!refresh) return handler;
  return async (req) => {
    if (new URL(req.url).pathname === "/metrics") await refresh();
    return handler(req);
  };
}

/** The metrics port's key, for the advice after a failed bind. */
const METRICS_BIND = { key: "metricsListen" } as const;

/**
 * Starts the metrics and health server on `listen` (`Deno.serve`) and returns once it is bound.
 *
 * @example
 * ```ts ignore
 * const ac = new AbortController();
 * const srv = serveMetrics({
 *   listen: "127.0.0.1:9560", registry, ready: () => ({ ready: true, checks: {} }),
 *   signal: ac.signal, log,
 * });
 * ac.abort();
 * await srv.finished;
 * ```
 * @throws {TypeError} for a malformed `listen`; `Deno.errors.AddrInUse` and friends when the
 *   address cannot be bound, their message naming it:
 *   `Cannot listen for metrics on "127.0.0.1:9560": Address already in use (os error 98): another
 *   program already listens on port 9560 (…); stop it or set metricsListen to a free address or port`
 */
export function serveMetrics(options: ServeMetricsOptions): MetricsServer {
  const { hostname, port } = parseListen(options.listen);
  const log = options.log;
  registerProcessMetrics(options.registry, options.version, options.commit);
  if (options.front) return serveBehindFront(options, options.front, hostname, port);
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname,
      port,
      signal: options.signal,
      onListen: () => {},
      onError: (err) => {
        log.warn("metrics request failed", { error: err });
        return text("internal error\n", 500);
      },
    }, withRefresh(metricsHandler(options), options.refresh));
  } catch (err) {
    throw bindError("metrics", options.listen, err, METRICS_BIND);
  }
  const addr = server.addr;
  log.info("metrics listening", { addr: formatHostPort(addr.hostname, addr.port) });
  return { addr, finished: server.finished.catch((error) => serverFailed(log, error)) };
}

/** `Deno.serve`'s accept loop failed (out of descriptors): log it rather than crash. */
function serverFailed(log: Logger, error: unknown): void {
  log.error("metrics server stopped", { error });
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function serveBehindFront(
  options: ServeMetricsOptions,
  f: NonNullable<ServeMetricsOptions["front"]>,
  hostname: string,
  port: number,
): MetricsServer {
  const log = options.log;
  try {
    Deno.removeSync(f.socketPath); // left by a crash
  } catch { /* not there */ }
  const stop = new AbortController();
  const inner = Deno.serve({
    path: f.socketPath,
    signal: stop.signal,
    onListen: () => {},
    onError: (err) => {
      log.warn("metrics request failed", { error: err });
      return text("internal error\n", 500);
    },
  }, withRefresh(metricsHandler(options), options.refresh));
  try {
    // As the control socket beside it (lib/control/README.md): only its owner may connect. Bound
    // with the process umask (0755 under 022) by Deno.serve, which takes no mode; changed before
    // this tick ends, so before a request is served.
    Deno.chmodSync(f.socketPath, METRICS_SOCKET_MODE);
  } catch (err) {
    stop.abort();
    throw new Error(`Cannot restrict metrics socket "${f.socketPath}": ${errorText(err)}`, {
      cause: err,
    });
  }
  let front: HttpFront;
  try {
    front = new HttpFront({
      hostname,
      port,
      upstream: { path: f.socketPath },
      maxConnections: f.maxConnections,
      establishTimeoutMs: f.firstByteTimeoutMs ?? METRICS_FIRST_BYTE_TIMEOUT_MS,
      idleTimeoutMs: f.idleTimeoutMs ?? METRICS_IDLE_TIMEOUT_MS,
      name: "metrics",
      log,
      ...(f.checkEveryMs ? { checkEveryMs: f.checkEveryMs } : {}),
    });
  } catch (err) {
    stop.abort();
    throw bindError("metrics", options.listen, err, METRICS_BIND);
  }
  const onAbort = () => {
    front.close();
    stop.abort();
  };
  if (options.signal.aborted) onAbort();
  else options.signal.addEventListener("abort", onAbort, { once: true });
  const addr = front.addr;
  log.info("metrics listening", {
    addr: formatHostPort(addr.hostname, addr.port),
    maxConnections: f.maxConnections,
  });
  const finished = Promise.all([
    front.finished,
    inner.finished.catch((error) => serverFailed(log, error)),
  ]).then(() => {
    try {
      Deno.removeSync(f.socketPath);
    } catch { /* gone */ }
  });
  return { addr, finished };
}
