// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The receiving side of the tunnel: an HTTP/2 server (`Deno.serve`) that authenticates each
 * stream, checks that its target is a ready endpoint of that service on this node in its own
 * registry snapshot (never an open proxy), dials it, and copies bytes both ways with
 * half-close. Flow control is HTTP/2's, per stream, so a slow stream stalls only itself.
 * {@linkcode TunnelServer} wires the listening side (./inner.ts: the front and the servers
 * behind it) to the streams (./streams.ts) and holds the keys.
 * @module
 */
import type { Logger } from "../log/mod.ts";
import type { MetricsRegistry } from "../metrics/mod.ts";
import { bindError } from "../netaddr/mod.ts";
import { type TcpKeepAlive, TUNNEL_KEEPALIVE } from "../sys/keepalive.ts";
import type { Snapshot } from "../registry/model.ts";
import { importTunnelKey, RequestVerifier } from "./auth.ts";
import type { TunnelTls } from "./dialer.ts";
import {
  denoServe,
  INNER_RETIRE_CHECK_MS,
  type InnerServe,
  InnerServers,
  type TunnelServerDown,
} from "./inner.ts";
import { type TunnelMetrics, tunnelMetrics } from "./metrics.ts";
import { TunnelStreams } from "./streams.ts";
import { type BackendDial, tcpBackendDial } from "./tcp.ts";
import { formatHostPort, parseHostPort } from "./wire.ts";

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
  /** Connects to a local endpoint. @default tcpBackendDial() */
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

/** Default of {@linkcode TunnelServerOptions.maxConnections}. */
export const TUNNEL_MAX_CONNECTIONS = 1024;
/** Default of {@linkcode TunnelServerOptions.establishTimeoutMs}. */
export const TUNNEL_ESTABLISH_TIMEOUT_MS = 10_000;

/** The per-address share of a connection cap (see `maxConnectionsPerAddress`). */
export function tunnelConnectionsPerAddress(maxConnections: number): number {
  return Math.min(maxConnections, Math.max(16, Math.floor(maxConnections / 8)));
}

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
  readonly #servers: InnerServers;
  readonly #streams: TunnelStreams;
  readonly #stop = new AbortController();

  /**
   * Binds and starts serving at once.
   * @throws {SyntaxError|RangeError} for a bad `listen`; `Deno.errors.AddrInUse` etc. on bind,
   *   naming the address (`Cannot listen for the tunnel (tunnelListen) on "…": …`)
   */
  constructor(options: TunnelServerOptions) {
    this.#opts = options;
    this.#log = options.log;
    this.#metrics = tunnelMetrics(options.metrics);
    const now = options.now ?? Date.now;
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
    const streams = new TunnelStreams({
      log: this.#log,
      metrics: this.#metrics,
      verifier,
      dial: options.dial ?? tcpBackendDial(),
      signal,
      now,
      nodeName: options.nodeName,
      dialTimeoutMs: options.dialTimeoutMs,
      loopbackEndpointsForTests: options.loopbackEndpointsForTests,
    });
    this.#streams = streams;
    signal.addEventListener("abort", () => {
      streams.closeAll();
      // Undefined when this constructor threw (`options.signal` may abort later).
      this.#servers?.stopTimers();
    }, { once: true });
    // Deno.serve has no connection cap or timeouts (and crashes the process at EMFILE): it
    // listens on loopback behind a front (lib/sys/http_front.ts) that caps and times out
    // connections and copies their bytes (TLS included: the front cannot end TLS without
    // leaking sockets, see there). The real remote address is the front's, looked up by the
    // port of the front's connection to it (TunnelStreams.handle).
    const maxConnections = options.maxConnections ?? TUNNEL_MAX_CONNECTIONS;
    const maxPerAddress = options.maxConnectionsPerAddress ??
      tunnelConnectionsPerAddress(maxConnections);
    const keepAlive = options.keepAlive === undefined ? TUNNEL_KEEPALIVE : options.keepAlive;
    try {
      this.#servers = new InnerServers({
        serve: options.serve ?? denoServe,
        log: this.#log,
        metrics: this.#metrics,
        now,
        signal,
        tls: options.tls ?? null,
        retireCheckMs: options.retireCheckMs ?? INNER_RETIRE_CHECK_MS,
        streams,
        front: {
          hostname: hp.host,
          port: hp.port,
          maxConnections,
          maxPerAddress,
          establishTimeoutMs: options.establishTimeoutMs ?? TUNNEL_ESTABLISH_TIMEOUT_MS,
          // Established by a stream that proved the key, not by the server's SETTINGS (sent to
          // anyone who writes the preface). No idle timeout: an authenticated connection
          // carries long quiet streams, and the client sends no pings; TCP keepalive gives up a
          // peer that vanished.
          establishedBy: "caller",
          idleTimeoutMs: 0,
          ...(keepAlive === null ? {} : { keepAlive }),
          name: "tunnel",
          log: this.#log,
          ...(options.checkEveryMs ? { checkEveryMs: options.checkEveryMs } : {}),
        },
      });
    } catch (err) {
      throw bindError("the tunnel (tunnelListen)", options.listen, err, { key: "tunnelListen" });
    }
    const servers = this.#servers;
    const front = servers.front;
    if (signal.aborted) front.close();
    else signal.addEventListener("abort", () => front.close(), { once: true });
    this.addr = { hostname: front.addr.hostname, port: front.addr.port };
    this.#metrics.serverUp.set(undefined, 1);
    servers.watchFirst();
    this.finished = front.finished.then(() => servers.finished());
    this.#log.info("tunnel listening", {
      address: formatHostPort(this.addr.hostname, this.addr.port),
      tls: options.tls ? "on" : "off",
      maxConnections,
      maxPerAddress,
    });
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
    this.#servers.setTls(tls);
  }

  /**
   * Null while new connections are served; otherwise why and since when they are not (the
   * server behind the front stopped and has not been restarted yet).
   */
  get down(): TunnelServerDown | null {
    return this.#servers.down;
  }

  /** Takes the registry snapshot that authorizes streams. */
  update(snapshot: Snapshot): void {
    this.#streams.update(snapshot);
  }

  /** Connections to the tunnel port open now (through its front). */
  get openConnections(): number {
    return this.#servers.front.open;
  }

  /** Streams currently being served. */
  get activeStreams(): number {
    return this.#streams.active;
  }

  /** Stops listening, closes open streams, and waits for the server to finish. */
  async close(): Promise<void> {
    this.#stop.abort();
    await this.finished;
    await this.#streams.settled();
  }
}
