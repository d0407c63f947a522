// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The receiving side of the tunnel: an HTTP/2 server (`Deno.serve`) that authenticates each
 * stream, checks that its target is a ready endpoint of that service on this node in its own
 * registry snapshot (never an open proxy), dials it, and copies bytes both ways with
 * half-close. Flow control is HTTP/2's, per stream, so a slow stream stalls only itself.
 * @module
 */
import { type Logger, LogRateLimiter } from "../log/mod.ts";
import type { MetricsRegistry } from "../metrics/mod.ts";
import type { UpstreamConn } from "../proxy/dialer.ts";
import { bindError, specialIpKind, specialIpProblem } from "../netaddr/mod.ts";
import { HttpFront } from "../sys/http_front.ts";
import { setListenerNoDelay } from "../sys/nodelay.ts";
import { type TcpKeepAlive, TUNNEL_KEEPALIVE } from "../sys/keepalive.ts";
import {
  type Backend,
  backendsFor,
  EMPTY_SNAPSHOT,
  isUsable,
  serviceKey,
  type Snapshot,
} from "../registry/model.ts";
import { importTunnelKey, RequestVerifier, type VerifyFailure } from "./auth.ts";
import { FramedChannel, STREAM_WINDOW } from "./channel.ts";
import type { TunnelTls } from "./dialer.ts";
import { type TunnelMetrics, tunnelMetrics } from "./metrics.ts";
import { type BackendDial, tcpDialBackend } from "./tcp.ts";
import {
  formatHostPort,
  HEADERS,
  parseHostPort,
  parseStreamTarget,
  readStreamHeaders,
  REFUSAL_HEADER,
  REFUSAL_STATUS,
  type RefusalReason,
  STREAM_PATH,
  type StreamTarget,
} from "./wire.ts";

/** Result of {@linkcode authorizeStream}. */
export type Authorization =
  | { readonly ok: true; readonly backend: Backend }
  | {
    readonly ok: false;
    readonly reason: Extract<RefusalReason, "unknown-service" | "endpoint-not-local">;
    readonly detail: string;
  };

/**
 * Decides whether this node may connect a stream to its target: the service and its TCP
 * port must exist in `snapshot`, and the endpoint must be a backend of that port a peer's
 * proxy may pick — ready, or serving and terminating (its fallback when the service has no
 * ready endpoint, KEP-1669) — whose `nodeName` is exactly `nodeName` (an endpoint of unknown
 * node is never served to peers). An endpoint address that can never be an endpoint —
 * loopback, unspecified, link-local (`specialIpProblem`, what Kubernetes refuses) — is refused
 * whatever the snapshot says: the registry refuses such endpoints and drops them from loaded
 * state, and this check keeps a peer's stream off this node's own loopback-only listeners
 * should one ever reach a snapshot anyway.
 */
export function authorizeStream(
  snapshot: Snapshot,
  nodeName: string,
  t: StreamTarget,
  options: { readonly loopbackEndpointsForTests?: boolean } = {},
): Authorization {
  const special = specialIpProblem(t.endpointIp);
  const allowed = options.loopbackEndpointsForTests === true &&
    specialIpKind(t.endpointIp) === "loopback";
  if (special !== null && !allowed) {
    return {
      ok: false,
      reason: "endpoint-not-local",
      detail: `endpoint ${special}: never served to peers`,
    };
  }
  const key = serviceKey(t.namespace, t.service);
  const entry = snapshot.services.get(key);
  if (!entry) return { ok: false, reason: "unknown-service", detail: `no service "${key}"` };
  const port = entry.service.ports.find((p) => p.port === t.port && p.protocol === "TCP");
  if (!port) {
    return { ok: false, reason: "unknown-service", detail: `"${key}" has no TCP port ${t.port}` };
  }
  const ep = formatHostPort(t.endpointIp, t.endpointPort);
  const backend = backendsFor(entry, port, isUsable).find((b) =>
    b.ip === t.endpointIp && b.port === t.endpointPort
  );
  if (!backend) {
    return {
      ok: false,
      reason: "endpoint-not-local",
      detail: `${ep} is not a ready or serving endpoint of "${key}" port ${t.port}`,
    };
  }
  if (backend.nodeName !== nodeName) {
    return {
      ok: false,
      reason: "endpoint-not-local",
      detail: `${ep} of "${key}" is on node "${
        backend.nodeName ?? "<unknown>"
      }", not "${nodeName}"`,
    };
  }
  return { ok: true, backend };
}

/** Options of {@linkcode TunnelServer}. */
export interface TunnelServerOptions {
  /** `host:port` (config `tunnelListen`); port 0 picks a free port. */
  readonly listen: string;
  /** This node's name: only endpoints on it are served. */
  readonly nodeName: string;
  /** The cluster key bytes (`loadTunnelKey`). */
  readonly key: Uint8Array;
  /** Further keys accepted on incoming streams, never used to sign (`tunnelAcceptKeyFiles`). */
  readonly acceptKeys?: readonly Uint8Array[];
  /** Serve TLS with this certificate (PEM); plain HTTP/2 (h2c) otherwise. */
  readonly tls?: TunnelTls | null;
  readonly log: Logger;
  readonly metrics?: MetricsRegistry;
  /** Connects to a local endpoint. @default tcpDialBackend */
  readonly dial?: BackendDial;
  /** @default Date.now */
  readonly now?: () => number;
  /** Accepted clock difference of peers, ms. @default 60000 */
  readonly replayWindowMs?: number;
  /** Most nonces remembered in all (`RequestVerifierOptions.maxNonces`). @default 200000 */
  readonly maxNonces?: number;
  /**
   * Most nonces remembered per remote address: about this many streams per replay window
   * from one address, then `rate-limited` (`RequestVerifierOptions.maxNoncesPerSource`).
   * @default 25000
   */
  readonly maxNoncesPerSource?: number;
  /** Endpoint dial timeout when the peer sends none, and the cap of what it sends, ms. */
  readonly dialTimeoutMs?: number;
  /** Stops the server and closes open streams. */
  readonly signal?: AbortSignal;
  /**
   * Serve endpoints on loopback (`127.0.0.0/8`, `::1`), which `authorizeStream` refuses:
   * only for tests and benchmarks whose "nodes" share one host's loopback. The agent never
   * sets it. @default false
   */
  readonly loopbackEndpointsForTests?: boolean;
  /**
   * Most connections to the tunnel port open at once (the agent: `fdBudget().tunnelConnections`);
   * beyond, new ones wait in the kernel's backlog. @default 1024
   */
  readonly maxConnections?: number;
  /**
   * Most of those from one remote address; more are closed at once.
   * @default max(16, maxConnections / 8), at most maxConnections
   */
  readonly maxConnectionsPerAddress?: number;
  /**
   * A connection on which no stream proved the cluster key within this long (TCP, TLS
   * handshake, HTTP/2 preface and a signed request) is closed, ms. @default 10000
   */
  readonly establishTimeoutMs?: number;
  /** How often the front checks that timeout, ms (tests). @default 1000 */
  readonly checkEveryMs?: number;
  /**
   * After a TLS reload, how often the tunnel looks whether the replaced server behind the
   * front still has connections, ms (tests). @default {@linkcode INNER_RETIRE_CHECK_MS}
   */
  readonly retireCheckMs?: number;
  /**
   * When a connection from a peer that went silent is reset (`lib/sys/keepalive.ts`): a node
   * that loses power or its link would otherwise keep its streams, and their endpoint
   * connections here, open for good. Null leaves the system's TCP timing.
   * @default {@linkcode TUNNEL_KEEPALIVE}
   */
  readonly keepAlive?: TcpKeepAlive | null;
  /**
   * Starts the HTTP/2 server behind the front (tests: one whose `finished` they settle).
   * @default Deno.serve
   */
  readonly serve?: InnerServe;
}

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
const denoServe: InnerServe = (options, handler) =>
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

/** Default of {@linkcode TunnelServerOptions.maxConnections}. */
export const TUNNEL_MAX_CONNECTIONS = 1024;
/** Default of {@linkcode TunnelServerOptions.establishTimeoutMs}. */
export const TUNNEL_ESTABLISH_TIMEOUT_MS = 10_000;

/** The per-address share of a connection cap (see `maxConnectionsPerAddress`). */
export function tunnelConnectionsPerAddress(maxConnections: number): number {
  return Math.min(maxConnections, Math.max(16, Math.floor(maxConnections / 8)));
}

/** Copy buffer size per direction of a stream. */
const COPY_CHUNK = 64 * 1024;

/** The warning per authentication failure: what went wrong and what an operator should check. */
const AUTH_WARNINGS: Readonly<Record<VerifyFailure | "missing", string>> = {
  "bad-signature": "Tunnel peer failed authentication (bad signature): check that both nodes use " +
    "the same tunnelKeyFile",
  stale: "Tunnel peer failed authentication (timestamp outside the replay window): check that " +
    "the clocks of both nodes agree (NTP)",
  replayed: "Tunnel peer failed authentication (nonce replayed): a captured request sent again",
  "rate-limited": "Tunnel peer rate-limited: this address opened more streams within the replay " +
    "window than one address may (its share of the nonce cache); its streams are refused " +
    "until its nonces expire, other peers are not affected",
  "cache-full": "Tunnel refused a stream: the nonce cache is full (too many streams from all " +
    "peers within the replay window); streams are refused until nonces expire",
  malformed: "Tunnel peer failed authentication (malformed signed headers): not an edgemesh " +
    "peer, or an incompatible version",
  missing: "Tunnel peer failed authentication (no signed headers): not an edgemesh peer, or an " +
    "incompatible version",
};

/** Serves tunnel streams from peer agents. */
export class TunnelServer {
  /** The bound address (the real port when `listen` asked for 0). */
  readonly addr: { readonly hostname: string; readonly port: number };
  /** Resolves when the server has stopped and every stream has ended. */
  readonly finished: Promise<void>;
  readonly #opts: TunnelServerOptions;
  readonly #log: Logger;
  readonly #metrics: TunnelMetrics;
  readonly #verifier: Promise<RequestVerifier>;
  readonly #dial: BackendDial;
  readonly #serveFn: InnerServe;
  #tls: { cert?: string; key?: string };
  readonly #now: () => number;
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
  readonly #front: HttpFront;
  readonly #stop = new AbortController();
  readonly #signal: AbortSignal;
  readonly #conns = new Set<{ channel: FramedChannel; conn: UpstreamConn }>();
  readonly #tasks = new Set<Promise<void>>();
  /** One failed-authentication warning per remote address and minute. */
  readonly #authWarnings: LogRateLimiter;
  #snapshot: Snapshot = EMPTY_SNAPSHOT;

  /**
   * Binds and starts serving at once.
   * @throws {SyntaxError|RangeError} for a bad `listen`; `Deno.errors.AddrInUse` etc. on bind,
   *   naming the address (`Cannot listen for the tunnel (tunnelListen) on "…": …`)
   */
  constructor(options: TunnelServerOptions) {
    this.#opts = options;
    this.#log = options.log;
    this.#metrics = tunnelMetrics(options.metrics);
    this.#dial = options.dial ?? tcpDialBackend;
    this.#serveFn = options.serve ?? denoServe;
    const now = options.now ?? Date.now;
    this.#now = now;
    this.#authWarnings = new LogRateLimiter({ now });
    const verifier = Promise.all([
      importTunnelKey(options.key),
      ...(options.acceptKeys ?? []).map(importTunnelKey),
    ]).then(([key, ...accept]) =>
      new RequestVerifier({
        key: key!,
        accept,
        now,
        windowMs: options.replayWindowMs ?? 60_000,
        maxNonces: options.maxNonces,
        maxNoncesPerSource: options.maxNoncesPerSource,
      })
    );
    verifier.catch(() => {});
    this.#verifier = verifier;
    const hp = parseHostPort(options.listen, undefined, true);
    const signal = options.signal
      ? AbortSignal.any([options.signal, this.#stop.signal])
      : this.#stop.signal;
    this.#signal = signal;
    signal.addEventListener("abort", () => {
      this.#closeStreams();
      if (this.#restartTimer !== null) clearTimeout(this.#restartTimer);
      this.#restartTimer = null;
      for (const t of this.#retireTimers) clearInterval(t);
      this.#retireTimers.clear();
    }, { once: true });
    // Deno.serve has no connection cap or timeouts (and crashes the process at EMFILE): it
    // listens on loopback behind a front (lib/sys/http_front.ts) that caps and times out
    // connections and copies their bytes (TLS included: the front cannot end TLS without
    // leaking sockets, see there). The real remote address is the front's, looked up by the
    // port of the front's connection to it (#handle).
    this.#tls = options.tls ? { cert: options.tls.cert, key: options.tls.key } : {};
    let inner: InnerServer;
    try {
      inner = this.#serveInner();
    } catch (err) {
      throw bindError("the tunnel (tunnelListen)", options.listen, err);
    }
    const maxConnections = options.maxConnections ?? TUNNEL_MAX_CONNECTIONS;
    const maxPerAddress = options.maxConnectionsPerAddress ??
      tunnelConnectionsPerAddress(maxConnections);
    const keepAlive = options.keepAlive === undefined ? TUNNEL_KEEPALIVE : options.keepAlive;
    try {
      this.#front = new HttpFront({
        hostname: hp.host,
        port: hp.port,
        upstream: { hostname: "127.0.0.1", port: inner.addr.port },
        maxConnections,
        maxPerAddress,
        establishTimeoutMs: options.establishTimeoutMs ?? TUNNEL_ESTABLISH_TIMEOUT_MS,
        // Established by a stream that proved the key, not by the server's SETTINGS (sent to
        // anyone who writes the preface). No idle timeout: an authenticated connection carries
        // long quiet streams, and the client sends no pings; TCP keepalive gives up a peer that
        // vanished.
        establishedBy: "caller",
        idleTimeoutMs: 0,
        ...(keepAlive === null ? {} : { keepAlive }),
        name: "tunnel",
        log: this.#log,
        ...(options.checkEveryMs ? { checkEveryMs: options.checkEveryMs } : {}),
      });
    } catch (err) {
      this.#stop.abort();
      inner.finished.catch(() => {});
      throw bindError("the tunnel (tunnelListen)", options.listen, err);
    }
    const front = this.#front;
    if (signal.aborted) front.close();
    else signal.addEventListener("abort", () => front.close(), { once: true });
    this.addr = { hostname: front.addr.hostname, port: front.addr.port };
    this.#metrics.serverUp.set(undefined, 1);
    this.#watch(inner);
    this.finished = front.finished.then(async () => {
      while (this.#innerDone.size > 0) await Promise.all([...this.#innerDone]);
    });
    this.#log.info("tunnel listening", {
      address: formatHostPort(this.addr.hostname, this.addr.port),
      tls: options.tls ? "on" : "off",
      maxConnections,
      maxPerAddress,
    });
  }

  /**
   * `Deno.serve` on a random loopback port, behind the front (its own port is the one the
   * front's legs to it go to: {@linkcode HttpFront.peerOf}).
   * @throws what `Deno.serve` throws (`EMFILE` while the process is out of descriptors)
   */
  #serveInner(): InnerServer {
    let port = 0;
    const stop = new AbortController();
    const server = this.#serveFn({
      hostname: "127.0.0.1",
      port: 0,
      signal: AbortSignal.any([this.#signal, stop.signal]),
      ...this.#tls,
      onListen: () => {},
      onError: (err) => {
        this.#log.debug("tunnel request failed", { error: err });
        return new Response("internal error", { status: 500 });
      },
    }, (req, info) => this.#handle(req, info.remoteAddr, port));
    port = server.addr.port;
    this.#inner = server;
    this.#innerStops.set(server, stop);
    // With TLS, Deno.serve leaves Nagle's algorithm on for the connections it accepts (it sets
    // TCP_NODELAY only without TLS) and has no option for it: a small write after another (a
    // stream's FIN after its DATA, each a TLS record) waited for the front's delayed ACK, and
    // the next stream's answer behind it: 40 ms per sequential stream. Accepted sockets
    // inherit the option from the listener (Linux), which nothing has connected to yet.
    // Without the C library (no --allow-ffi) it stays off.
    if (this.#opts.tls && !setListenerNoDelay("127.0.0.1", port)) {
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
      this.#front.setUpstream(null);
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
    this.#front.setUpstream({ hostname: "127.0.0.1", port: server.addr.port });
    this.#metrics.serverUp.set(undefined, 1);
    const since = this.#down?.since ?? this.#now();
    this.#down = null;
    this.#log.info("tunnel server restarted", { downMs: this.#now() - since });
    this.#watch(server);
  }

  /**
   * Verifies streams with these keys from now on (a reload of the key files): `key`
   * (`tunnelKeyFile`) and the accepted ones (`tunnelAcceptKeyFiles`). The nonce cache is kept.
   * @throws {RangeError} when a key is shorter than 32 bytes (the old keys stay)
   */
  async setKeys(key: Uint8Array, acceptKeys: readonly Uint8Array[] = []): Promise<void> {
    const [signing, ...accept] = await Promise.all(
      [key, ...acceptKeys].map(importTunnelKey),
    );
    (await this.#verifier).setKeys(signing!, accept);
  }

  /**
   * Serves new connections with a new certificate and key (a TLS reload): starts a new server
   * behind the front with them and sends new connections there; connections open now stay
   * with the old server (a peer's dialer keeps its connection and opens its streams on it).
   * The old server stops once the last of them has closed. While the server is down the new
   * pair is kept for its restart.
   * @throws {TypeError} when the tunnel serves h2c; what `Deno.serve` throws for the pair (the
   *   old one keeps serving)
   */
  setTls(tls: TunnelTls): void {
    if (!this.#opts.tls) throw new TypeError("The tunnel serves h2c: no certificate to replace");
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
    this.#front.setUpstream({ hostname: "127.0.0.1", port: server.addr.port });
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
    const idle = () => this.#front.connectionsTo(port) === 0;
    if (idle()) {
      this.#innerStops.get(server)?.abort();
      return;
    }
    const timer = setInterval(() => {
      if (!idle()) return;
      clearInterval(timer);
      this.#retireTimers.delete(timer);
      this.#innerStops.get(server)?.abort();
    }, this.#opts.retireCheckMs ?? INNER_RETIRE_CHECK_MS);
    this.#retireTimers.add(timer);
  }

  /**
   * Null while new connections are served; otherwise why and since when they are not (the
   * server behind the front stopped and has not been restarted yet).
   */
  get down(): TunnelServerDown | null {
    return this.#down;
  }

  /** Takes the registry snapshot that authorizes streams. */
  update(snapshot: Snapshot): void {
    this.#snapshot = snapshot;
  }

  /** Connections to the tunnel port open now (through its front). */
  get openConnections(): number {
    return this.#front.open;
  }

  /** Streams currently being served. */
  get activeStreams(): number {
    return this.#conns.size;
  }

  /** Stops listening, closes open streams, and waits for the server to finish. */
  async close(): Promise<void> {
    this.#stop.abort();
    await this.finished;
    await Promise.all(this.#tasks);
  }

  #closeStreams(): void {
    for (const { channel, conn } of this.#conns) {
      channel.close();
      closeQuietly(conn);
    }
  }

  #refuse(reason: RefusalReason, fields: Record<string, unknown>, detail: string): Response {
    this.#metrics.refusals.inc({ reason });
    this.#metrics.streams.inc({ direction: "in", result: reason });
    this.#log.debug("tunnel stream refused", { reason, ...fields, detail });
    return new Response(reason === "unauthenticated" ? reason : detail, {
      status: REFUSAL_STATUS[reason],
      headers: { [REFUSAL_HEADER]: reason },
    });
  }

  async #handle(req: Request, inner: Deno.NetAddr, serverPort: number): Promise<Response> {
    const peer = this.#front.peerOf(inner.port, serverPort);
    if (peer === null) {
      // The front's connection has closed already (nobody reads the answer), or this one did
      // not come through the front (a local process on the loopback port): no address to
      // charge, so nothing is verified or served.
      this.#authWarnings.warn(
        this.#log,
        "not-through-front",
        "Tunnel refused a stream on a connection that did not come through its listener",
        { inner: formatHostPort(inner.hostname, inner.port) },
      );
      await req.body?.cancel();
      return new Response("no such connection", { status: 503 });
    }
    const remote = peer.remoteAddr;
    const from = formatHostPort(remote.hostname, remote.port);
    if (req.method !== "POST" || new URL(req.url).pathname !== STREAM_PATH) {
      return this.#refuse("bad-request", { from }, `no such endpoint ${req.method} ${req.url}`);
    }
    const raw = readStreamHeaders(req.headers);
    if (raw === null) {
      this.#metrics.authFailures.inc();
      this.#warnUnauthenticated(remote, null, "missing");
      return this.#refuse("unauthenticated", { from, why: "missing" }, "missing signed headers");
    }
    // The budget is the remote address's: the signed node name is any key holder's to claim.
    const verdict = await (await this.#verifier).verify(raw, remote.hostname);
    // Signed with the cluster key (served, or refused for room in the nonce cache): a peer's
    // connection, exempt from the establish timeout from now on.
    if (verdict.ok || verdict.failure === "rate-limited" || verdict.failure === "cache-full") {
      peer.establish();
    }
    if (!verdict.ok) {
      const failure = verdict.failure;
      const fields = { from, source: raw.source, why: failure };
      if (failure === "rate-limited" || failure === "cache-full") {
        // Signed with the cluster key: no authentication failure, a refusal of its own.
        this.#warnUnauthenticated(remote, raw.source, failure);
        return this.#refuse(
          failure,
          fields,
          failure === "rate-limited"
            ? `too many streams from ${remote.hostname} within the replay window`
            : "too many streams within the replay window (nonce cache full)",
        );
      }
      this.#metrics.authFailures.inc();
      this.#warnUnauthenticated(remote, raw.source, failure);
      return this.#refuse("unauthenticated", fields, failure);
    }
    const parsed = parseStreamTarget(raw);
    if (!parsed.ok) return this.#refuse("bad-request", { from, source: raw.source }, parsed.error);
    const t = parsed.target;
    const fields = {
      from,
      source: t.source,
      service: `${t.namespace}/${t.service}`,
      port: t.port,
      endpoint: formatHostPort(t.endpointIp, t.endpointPort),
    };
    const auth = authorizeStream(this.#snapshot, this.#opts.nodeName, t, {
      loopbackEndpointsForTests: this.#opts.loopbackEndpointsForTests,
    });
    if (!auth.ok) return this.#refuse(auth.reason, fields, auth.detail);
    let conn: UpstreamConn;
    try {
      conn = await this.#dial(auth.backend, {
        timeoutMs: this.#dialTimeout(req.headers.get(HEADERS.dialTimeout)),
        signal: this.#signal,
      });
    } catch (err) {
      return this.#refuse(
        "dial-failed",
        fields,
        `Cannot connect to ${fields.endpoint}: ${(err as Error)?.message ?? String(err)}`,
      );
    }
    this.#metrics.streams.inc({ direction: "in", result: "ok" });
    this.#log.debug("tunnel stream open", fields);
    return new Response(this.#serve(conn, req.body, fields), { status: 200 });
  }

  /**
   * A peer failed authentication: with a key that differs between nodes (or clocks apart)
   * every stream from it fails, a configuration error an operator must see at the default
   * level. Once per remote address and minute, with the count left out; the per-stream line
   * stays at debug. `source` is the node name the request claims (not proven). A refusal for
   * want of room in the nonce cache (`rate-limited`, `cache-full`) is warned the same way,
   * counted apart from authentication failures so neither hides the other.
   */
  #warnUnauthenticated(
    remote: Deno.NetAddr,
    source: string | null,
    why: VerifyFailure | "missing",
  ): void {
    const key = why === "rate-limited" || why === "cache-full"
      ? `${why} ${remote.hostname}`
      : remote.hostname;
    this.#authWarnings.warn(this.#log, key, AUTH_WARNINGS[why], {
      from: formatHostPort(remote.hostname, remote.port),
      ...(source !== null ? { source } : {}),
      why,
    });
  }

  #dialTimeout(header: string | null): number {
    const cap = this.#opts.dialTimeoutMs ?? 5000;
    const asked = header !== null && /^\d{1,7}$/.test(header) ? Number(header) : cap;
    return Math.max(50, Math.min(asked, cap));
  }

  /**
   * Joins the stream and the endpoint: peer → endpoint and endpoint → peer, each direction
   * half-closed on its own (FIN → `closeWrite`, endpoint EOF → FIN). Returns the response body.
   */
  #serve(
    conn: UpstreamConn,
    requestBody: ReadableStream<Uint8Array> | null,
    fields: Record<string, unknown>,
  ): ReadableStream<Uint8Array> {
    const bytes = this.#metrics.bytes;
    const channel = new FramedChannel(STREAM_WINDOW, {
      onBytes: (direction, n) => bytes.inc({ direction }, n),
    }, { endAfterIncoming: true });
    const pair = { channel, conn };
    this.#conns.add(pair);
    this.#metrics.active.inc({ direction: "in" });
    channel.attach(requestBody ?? new ReadableStream({ start: (c) => c.close() }));
    const task = Promise.all([
      copy(channel, conn).then(() => conn.closeWrite().catch(() => {})),
      copy(conn, channel).then(() => channel.closeWrite()),
    ]).then(
      () => this.#log.debug("tunnel stream closed", fields),
      (err) => {
        this.#log.debug("tunnel stream reset", { ...fields, error: err });
        channel.close();
      },
    ).finally(() => {
      closeQuietly(conn);
      this.#conns.delete(pair);
      this.#metrics.active.dec({ direction: "in" });
    });
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
    return channel.outgoing;
  }
}

/** Closes a connection that may be closed already (`Deno.TcpConn.close` throws then). */
function closeQuietly(conn: UpstreamConn): void {
  try {
    conn.close();
  } catch { /* already closed */ }
}

/** Copies `from` → `to` until EOF. */
async function copy(
  from: Pick<UpstreamConn, "read">,
  to: Pick<UpstreamConn, "write">,
): Promise<void> {
  const buf = new Uint8Array(COPY_CHUNK);
  while (true) {
    const n = await from.read(buf);
    if (n === null) return;
    let off = 0;
    while (off < n) off += await to.write(buf.subarray(off, n));
  }
}
