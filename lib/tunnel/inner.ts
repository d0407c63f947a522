// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The tunnel's listening side: the front on `tunnelListen` (lib/sys/http_front.ts: caps,
 * timeouts, the peers' real addresses) and the `Deno.serve` behind it on a random loopback
 * port. {@linkcode InnerServers} restarts that server on a new port when it stops (out of
 * descriptors), and replaces it on a TLS reload, retiring the old one once its connections
 * have closed.
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { HttpFront, type HttpFrontOptions } from "../sys/http_front.ts";
import { setListenerNoDelay } from "../sys/nodelay.ts";
import type { TunnelTls } from "./dialer.ts";
import type { TunnelMetrics } from "./metrics.ts";
import type { TunnelStreams } from "./streams.ts";

/** What {@linkcode TunnelServer} passes to its {@linkcode InnerServe}: `Deno.serve`'s options. */
export interface InnerServeOptions {
  readonly hostname: "127.0.0.1";
  readonly port: 0;
  /**
   * Stops this server gracefully (`Deno.serve`: it stops accepting; HTTP/2 connections get a
   * GOAWAY, RFC 9113 §6.8, and close once their streams have ended). Its own signal: aborted
   * when the tunnel stops, or alone when a TLS reload replaced it. (Calling the server's
   * `shutdown()` instead, then aborting the signal it was started with, throws `BadResource`
   * from Deno's abort listener, uncaught: Deno 2.9.6.)
   */
  readonly signal: AbortSignal;
  readonly cert?: string;
  readonly key?: string;
  readonly onListen: () => void;
  readonly onError: (error: unknown) => Response;
}

/** What {@linkcode TunnelServer} uses of the server behind its front (a `Deno.HttpServer`). */
export interface InnerServer {
  readonly addr: Deno.NetAddr;
  /** Settles when it has stopped: at shutdown, or when its accept loop failed (rejects). */
  readonly finished: Promise<void>;
}

/** Starts the server behind the front: `Deno.serve` in the agent. */
export type InnerServe = (
  options: InnerServeOptions,
  handler: (req: Request, info: { readonly remoteAddr: Deno.NetAddr }) => Promise<Response>,
) => InnerServer;

/** `Deno.serve` as an {@linkcode InnerServe}. */
export const denoServe: InnerServe = (options, handler) =>
  Deno.serve({ ...options }, (req, info) => handler(req, info));

/** The first restart of a stopped inner server is at once; later ones wait this long, doubled. */
export const INNER_RESTART_MIN_MS = 1000;
/** The longest wait between restarts; an inner server that ran this long resets the wait. */
export const INNER_RESTART_MAX_MS = 30_000;
/** How often the tunnel looks whether a server replaced by a TLS reload can stop, ms. */
export const INNER_RETIRE_CHECK_MS = 5000;

/**
 * The wait before the next start of the server behind the front when the last start waited
 * `previousMs`: the first start after a stop is at once (0), then 1 s, doubling to 30 s.
 */
export function nextRestartDelay(previousMs: number): number {
  if (previousMs <= 0) return INNER_RESTART_MIN_MS;
  return Math.min(INNER_RESTART_MAX_MS, previousMs * 2);
}

/** Why and since when the server behind the front is down ({@linkcode TunnelServer.down}). */
export interface TunnelServerDown {
  /** When it stopped (the injected clock), ms since the epoch. */
  readonly since: number;
  /** Why it stopped, or why the last start failed. */
  readonly error: string;
  /** When the next start is due, ms since the epoch. */
  readonly retryAt: number;
}

/** What {@linkcode InnerServers} needs of the tunnel server (see `TunnelServerOptions`). */
export interface InnerServersOptions {
  readonly serve: InnerServe;
  readonly log: Logger;
  readonly metrics: TunnelMetrics;
  readonly now: () => number;
  /** Aborted when the tunnel stops: stops every server behind the front. */
  readonly signal: AbortSignal;
  /** The certificate and key the servers are started with; null: h2c. */
  readonly tls: TunnelTls | null;
  /** How often a server replaced by a TLS reload is looked at, ms. */
  readonly retireCheckMs: number;
  /** Serves each request of the servers. */
  readonly streams: TunnelStreams;
  /** The front's options; its upstream is the first server. */
  readonly front: Omit<HttpFrontOptions, "upstream">;
}

/** The front on `tunnelListen` and the servers behind it (see the module doc). */
export class InnerServers {
  /** The front: connections to `tunnelListen`. */
  readonly front: HttpFront;
  readonly #serveFn: InnerServe;
  readonly #log: Logger;
  readonly #metrics: TunnelMetrics;
  readonly #now: () => number;
  readonly #signal: AbortSignal;
  readonly #tlsOn: boolean;
  readonly #retireCheckMs: number;
  readonly #streams: TunnelStreams;
  #tls: { cert?: string; key?: string };
  /** The server behind the front that gets new connections (null while it is down). */
  #inner: InnerServer | null = null;
  /** Every inner server that has not finished yet (old ones serve their open connections). */
  readonly #innerDone = new Set<Promise<void>>();
  #down: TunnelServerDown | null = null;
  /** The last wait before a restart, ms: 0 at first and after an inner server ran 30 s. */
  #restartDelayMs = 0;
  #restartTimer: ReturnType<typeof setTimeout> | null = null;
  /** Checks of the servers replaced by a TLS reload that still have connections. */
  readonly #retireTimers = new Set<ReturnType<typeof setInterval>>();
  /** What stops each inner server that has not finished ({@linkcode InnerServeOptions.signal}). */
  readonly #innerStops = new Map<InnerServer, AbortController>();

  /**
   * Starts the first server behind the front, then the front (its listener is bound when this
   * returns); {@linkcode watchFirst} then restarts that server when it stops.
   * @throws what `Deno.serve` throws for the first server; what the front throws on bind (the
   *   first server is stopped then)
   */
  constructor(options: InnerServersOptions) {
    this.#serveFn = options.serve;
    this.#log = options.log;
    this.#metrics = options.metrics;
    this.#now = options.now;
    this.#signal = options.signal;
    this.#tlsOn = options.tls !== null;
    this.#retireCheckMs = options.retireCheckMs;
    this.#streams = options.streams;
    this.#tls = options.tls ? { cert: options.tls.cert, key: options.tls.key } : {};
    const inner = this.#serveInner();
    try {
      this.front = new HttpFront({
        ...options.front,
        upstream: { hostname: "127.0.0.1", port: inner.addr.port },
      });
    } catch (err) {
      this.#innerStops.get(inner)?.abort();
      inner.finished.catch(() => {});
      throw err;
    }
  }

  /** Watches the first server from now on: when it stops, it is restarted (see `#watch`). */
  watchFirst(): void {
    this.#watch(this.#inner!);
  }

  /** Resolves once every server behind the front has finished. */
  async finished(): Promise<void> {
    while (this.#innerDone.size > 0) await Promise.all([...this.#innerDone]);
  }

  /** Cancels the pending restart and the checks of replaced servers (the tunnel stops). */
  stopTimers(): void {
    if (this.#restartTimer !== null) clearTimeout(this.#restartTimer);
    this.#restartTimer = null;
    for (const t of this.#retireTimers) clearInterval(t);
    this.#retireTimers.clear();
  }

  /**
   * `Deno.serve` on a random loopback port, behind the front (its own port is the one the
   * front's legs to it go to: {@linkcode HttpFront.peerOf}).
   * @throws what `Deno.serve` throws (`EMFILE` while the process is out of descriptors)
   */
  #serveInner(): InnerServer {
    let port = 0;
    const stop = new AbortController();
    const streams = this.#streams;
    const server = this.#serveFn(
      {
        hostname: "127.0.0.1",
        port: 0,
        signal: AbortSignal.any([this.#signal, stop.signal]),
        ...this.#tls,
        onListen: () => {},
        onError: (err) => {
          this.#log.debug("tunnel request failed", { error: err });
          return new Response("internal error", { status: 500 });
        },
      },
      (req, info) =>
        streams.handle(req, this.front.peerOf(info.remoteAddr.port, port), info.remoteAddr),
    );
    port = server.addr.port;
    this.#inner = server;
    this.#innerStops.set(server, stop);
    // With TLS, Deno.serve leaves Nagle's algorithm on for the connections it accepts (it sets
    // TCP_NODELAY only without TLS) and has no option for it: a small write after another (a
    // stream's FIN after its DATA, each a TLS record) waited for the front's delayed ACK, and
    // the next stream's answer behind it: 40 ms per sequential stream. Accepted sockets
    // inherit the option from the listener (Linux), which nothing has connected to yet.
    // Without the C library (no --allow-ffi) it stays off.
    if (this.#tlsOn && !setListenerNoDelay("127.0.0.1", port)) {
      this.#log.info(
        "Tunnel TLS server without TCP_NODELAY (no C library through FFI): each stream's " +
          "answer may wait up to 40 ms",
      );
    }
    return server;
  }

  /**
   * Out of descriptors, `Deno.serve`'s accept loop fails for good (Deno 2.9.6: `finished`
   * rejects with `EMFILE` and its listener is closed; a flood of idle connections to its
   * loopback port by any local process does it): then new connections are closed at once
   * (the freed port is anyone's to bind) and a new server is started on a new loopback port,
   * at once and then after 1 s doubling to 30 s while it keeps failing. Never thrown (it
   * would end the agent). Its open connections are left to it.
   */
  #watch(server: InnerServer): void {
    const started = this.#now();
    const done = server.finished.then(() => null, (err: unknown) => err ?? "stopped");
    const settled = done.then(() => {});
    this.#innerDone.add(settled);
    done.then((error) => {
      this.#innerDone.delete(settled);
      this.#innerStops.delete(server);
      if (this.#signal.aborted || this.#inner !== server) return;
      this.#inner = null;
      this.front.setUpstream(null);
      this.#metrics.serverStops.inc();
      this.#metrics.serverUp.set(undefined, 0);
      if (this.#now() - started >= INNER_RESTART_MAX_MS) this.#restartDelayMs = 0;
      const delay = this.#restartDelayMs;
      const why = error === null ? "finished" : String((error as Error)?.message ?? error);
      this.#down = { since: this.#now(), error: why, retryAt: this.#now() + delay };
      this.#log.warn(
        "Tunnel server stopped accepting connections: restarting it on a new loopback port",
        { error: error ?? why, restartInMs: delay },
      );
      this.#scheduleRestart(delay);
    });
  }

  #scheduleRestart(delayMs: number): void {
    this.#restartDelayMs = nextRestartDelay(delayMs);
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = null;
      this.#restart();
    }, delayMs);
  }

  #restart(): void {
    if (this.#signal.aborted) return;
    let server: InnerServer;
    try {
      server = this.#serveInner();
    } catch (err) {
      const delay = this.#restartDelayMs;
      const down = this.#down;
      this.#down = {
        since: down?.since ?? this.#now(),
        error: String((err as Error)?.message ?? err),
        retryAt: this.#now() + delay,
      };
      this.#log.warn("Cannot restart the tunnel server, retrying", {
        error: err,
        retryInMs: delay,
      });
      this.#scheduleRestart(delay);
      return;
    }
    this.front.setUpstream({ hostname: "127.0.0.1", port: server.addr.port });
    this.#metrics.serverUp.set(undefined, 1);
    const since = this.#down?.since ?? this.#now();
    this.#down = null;
    this.#log.info("tunnel server restarted", { downMs: this.#now() - since });
    this.#watch(server);
  }

  /**
   * Serves new connections with a new certificate and key (a TLS reload): starts a new server
   * behind the front with them and sends new connections there; connections open now stay
   * with the old server (a peer's dialer keeps its connection and opens its streams on it).
   * The old server stops once the last of them has closed. While the server is down the new
   * pair is kept for its restart.
   * @throws what `Deno.serve` throws for the pair (the old one keeps serving)
   */
  setTls(tls: TunnelTls): void {
    if (this.#signal.aborted) return;
    const previous = this.#tls;
    this.#tls = { cert: tls.cert, key: tls.key };
    const replaced = this.#inner;
    if (replaced === null) return; // down: the restart uses the new pair
    let server: InnerServer;
    try {
      server = this.#serveInner();
    } catch (err) {
      this.#tls = previous;
      throw err;
    }
    this.front.setUpstream({ hostname: "127.0.0.1", port: server.addr.port });
    this.#watch(server);
    this.#retire(replaced);
  }

  /**
   * Stops `server`, replaced behind the front, once no connection through the front goes to
   * it (those still connecting included), looking now and then every
   * {@linkcode INNER_RETIRE_CHECK_MS}. Not before: Deno 2.9.6's graceful shutdown (`shutdown()`
   * or its abort signal) cancels the streams in flight (RST_STREAM CANCEL, measured), which
   * would cut the peers' open connections through the tunnel and fail the streams their
   * dialers are opening at that moment.
   */
  #retire(server: InnerServer): void {
    const port = server.addr.port;
    const idle = () => this.front.connectionsTo(port) === 0;
    if (idle()) {
      this.#innerStops.get(server)?.abort();
      return;
    }
    const timer = setInterval(() => {
      if (!idle()) return;
      clearInterval(timer);
      this.#retireTimers.delete(timer);
      this.#innerStops.get(server)?.abort();
    }, this.#retireCheckMs);
    this.#retireTimers.add(timer);
  }

  /**
   * Null while new connections are served; otherwise why and since when they are not (the
   * server behind the front stopped and has not been restarted yet).
   */
  get down(): TunnelServerDown | null {
    return this.#down;
  }
}
