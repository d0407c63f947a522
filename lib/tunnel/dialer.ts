// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The dialing side of the tunnel: a {@linkcode Dialer} that opens one HTTP/2 stream per
 * connection to the agent on the endpoint's node, over one HTTP/2 session (one connection) per
 * peer, more while its streams exceed the peer's per-session limit (`session_choice.ts`). A
 * dial resolves only once the peer has connected to the endpoint, so every failure (peer
 * unreachable, refused, remote dial failed) rejects within the timeout and the proxy fails
 * over to the next endpoint.
 * @module
 */
import * as http2 from "node:http2";
import { type Logger, LogRateLimiter } from "../log/mod.ts";
import type { MetricsRegistry } from "../metrics/mod.ts";
import type { Dialer, DialTarget, UpstreamConn } from "../proxy/dialer.ts";
import { type TcpKeepAlive, TUNNEL_KEEPALIVE } from "../sys/keepalive.ts";
import type { Backend, Snapshot } from "../registry/model.ts";
import { importTunnelKey, signRequest, type TunnelKey } from "./auth.ts";
import { type TunnelMetrics, tunnelMetrics } from "./metrics.ts";
import {
  type BackoffPolicy,
  DEFAULT_BACKOFF,
  DEFAULT_TUNNEL_PORT,
  dialPlan,
  type PeerHealth,
  type Route,
  routeFor,
} from "./peers.ts";
import { type Channel, errorText, type Peer, PeerPool, type PeerStatus } from "./peer_pool.ts";
import { FramedChannel, STREAM_WINDOW } from "./channel.ts";
import { DEFAULT_HEARTBEAT, type HeartbeatPolicy, type HeartbeatTimers } from "./heartbeat.ts";
import { DEFAULT_SESSION_POOL, type SessionPoolPolicy } from "./session_choice.ts";
import { DEFAULT_SOURCE_WATCH, type SourceWatchPolicy } from "./source_watch.ts";
import {
  encodeStreamHeaders,
  formatHostPort,
  parseRefusal,
  REFUSAL_HEADER,
  type RefusalReason,
  STREAM_PATH,
  targetHeaderValues,
} from "./wire.ts";
import { monotonicNow } from "../sys/clock.ts";

/** PEM contents for the tunnel's TLS (config `tunnelTLS`, files already read). */
export interface TunnelTls {
  readonly cert: string;
  readonly key: string;
  /** CA bundle peers' certificates must chain to. */
  readonly ca: string;
}

/** Why a tunnel dial failed: a peer's refusal reason or a local condition. */
export type TunnelDialFailure =
  | RefusalReason
  | "refused"
  | "no-peer"
  | "peer-down"
  | "peer-busy"
  | "peer-unreachable"
  | "timeout";

/** A tunnel dial failed; `reason` says why (callers may branch on it, e.g. for logs). */
export class TunnelDialError extends Error {
  readonly reason: TunnelDialFailure;
  constructor(reason: TunnelDialFailure, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TunnelDialError";
    this.reason = reason;
  }
}

/** Options of {@linkcode TunnelDialer}. */
export interface TunnelDialerOptions {
  /** This node's name, sent (signed) with every stream. */
  readonly nodeName: string;
  /** The cluster key bytes (`loadTunnelKey`). */
  readonly key: Uint8Array;
  /** When set, peers are dialled over TLS and must present a certificate chaining to `ca`. */
  readonly tls?: TunnelTls | null;
  /** Static peers from config (`peers`), `nodeName → host[:port]`; they win over Node objects. */
  readonly peers?: Readonly<Record<string, string>>;
  /** Tunnel port of peers learnt from Node objects. @default 40001 */
  readonly port?: number;
  readonly log: Logger;
  readonly metrics?: MetricsRegistry;
  /** The wall clock: stream signatures (the peer checks them against its own) and status times. @default Date.now */
  readonly now?: () => number;
  /**
   * The clock for durations: a peer's backoff, the rate of warnings. A wall clock set back
   * would keep a peer that was down "down" for as long as the step.
   * @default `now` when given, else monotonicNow (lib/sys/clock.ts)
   */
  readonly clock?: () => number;
  /** @default {initialMs: 1000, maxMs: 30000} */
  readonly backoff?: BackoffPolicy;
  /**
   * Probe each new peer at once — open its connection (TCP, TLS when configured, HTTP/2) —
   * instead of waiting for the first dial, so its state is known from the start (the agent's
   * main thread, whose peers `ctl status` shows); see `PeerPool`'s `#probe`. @default false
   */
  readonly probe?: boolean;
  /** How long a probe may take before the peer counts as down, ms. @default 5000 */
  readonly probeTimeoutMs?: number;
  /** Called once by {@linkcode TunnelDialer.close} (stops what reloads its TLS files). */
  readonly onClose?: () => void;
  /**
   * When a peer connection whose peer went silent is reset (`lib/sys/keepalive.ts`); null
   * leaves the system's TCP timing. @default {@linkcode TUNNEL_KEEPALIVE}
   */
  readonly keepAlive?: TcpKeepAlive | null;
  /**
   * Timing of the heartbeat that finds a hung peer agent (`heartbeat.ts`); null sends none.
   * @default {@linkcode DEFAULT_HEARTBEAT} (15 s quiet, 10 s to answer, looked at every 1 s)
   */
  readonly heartbeat?: HeartbeatPolicy | null;
  /** The heartbeat's timer (tests drive a fake one). @default globalThis */
  readonly timers?: HeartbeatTimers;
  /**
   * How streams to one peer spread over HTTP/2 sessions (`session_choice.ts`); tests cap the
   * streams per session low.
   * @default {@linkcode DEFAULT_SESSION_POOL} (up to 4 sessions, the peer's stream limit, extra
   *   sessions closed after 10 s without streams)
   */
  readonly sessions?: SessionPoolPolicy;
  /**
   * When connections' source addresses are checked, to close those whose source left the node
   * (`source_watch.ts`); null: never.
   * @default {@linkcode DEFAULT_SOURCE_WATCH} (every second, before a dial at most every 100 ms,
   *   and after a failed dial)
   */
  readonly sourceWatch?: SourceWatchPolicy | null;
}

/** Fraction of the dial timeout the peer gets for its own dial, so its answer arrives in time. */
const REMOTE_DIAL_SHARE = 0.8;

/** Default {@linkcode TunnelDialerOptions.probeTimeoutMs}. */
const PROBE_TIMEOUT_MS = 5000;

/** Dials remote endpoints through the agents on their nodes. */
export class TunnelDialer implements Dialer {
  readonly #opts: TunnelDialerOptions;
  #tls: TunnelTls | null;
  #key: Promise<TunnelKey>;
  readonly #log: Logger;
  readonly #metrics: TunnelMetrics;
  readonly #now: () => number;
  readonly #clock: () => number;
  readonly #pool: PeerPool;
  #closed = false;
  /** One "peer rejects our key" (or "rate-limits us", …) warning per peer, reason and minute. */
  readonly #authWarnings: LogRateLimiter;

  /** @throws {SyntaxError|RangeError} when a config peer is not an address */
  constructor(options: TunnelDialerOptions) {
    this.#opts = options;
    this.#tls = options.tls ?? null;
    this.#key = importTunnelKey(options.key);
    this.#key.catch(() => {}); // surfaced by dial()
    this.#log = options.log;
    this.#metrics = tunnelMetrics(options.metrics);
    this.#now = options.now ?? Date.now;
    this.#clock = options.clock ?? options.now ?? monotonicNow;
    this.#authWarnings = new LogRateLimiter({ now: this.#clock });
    this.#pool = new PeerPool({
      nodeName: options.nodeName,
      tls: this.#tls,
      configPeers: options.peers ?? {},
      port: options.port ?? DEFAULT_TUNNEL_PORT,
      log: this.#log,
      metrics: this.#metrics,
      now: this.#now,
      clock: this.#clock,
      backoff: options.backoff ?? DEFAULT_BACKOFF,
      probe: options.probe ?? false,
      probeTimeoutMs: options.probeTimeoutMs ?? PROBE_TIMEOUT_MS,
      keepAlive: options.keepAlive === undefined ? TUNNEL_KEEPALIVE : options.keepAlive,
      heartbeat: options.heartbeat === undefined ? DEFAULT_HEARTBEAT : options.heartbeat,
      timers: options.timers,
      sessions: options.sessions ?? DEFAULT_SESSION_POOL,
      sourceWatch: options.sourceWatch === undefined ? DEFAULT_SOURCE_WATCH : options.sourceWatch,
    });
  }

  /** Learns peer addresses from the snapshot's Node objects (config `peers` still win). */
  update(snapshot: Snapshot): void {
    this.#pool.update(snapshot);
  }

  /** Resolves once no probe is in flight (meanwhile those peers are `unknown`). */
  probed(): Promise<void> {
    return this.#pool.probed();
  }

  /** Whether a tunnel address is known for `nodeName`. */
  hasPeer(nodeName: string): boolean {
    return this.#pool.has(nodeName);
  }

  /** The route of a backend with this dialer's peers ({@linkcode routeFor}). */
  routeFor(backend: Backend): Route {
    return routeFor(backend, {
      nodeName: this.#opts.nodeName,
      tunnelEnabled: true,
      hasPeer: (n) => this.hasPeer(n),
    });
  }

  /** Peers with address and health, for `ctl status`. */
  status(): PeerStatus[] {
    return this.#pool.status();
  }

  #fail(result: string, err: TunnelDialError): never {
    this.#metrics.streams.inc({ direction: "out", result });
    throw err;
  }

  /**
   * Opens a stream to the agent on `target.backend.nodeName`, which connects to the endpoint.
   * Resolves once the peer answered 200 (the endpoint accepted the connection).
   * @throws {TunnelDialError} with the reason (refusal, no peer, peer down, timeout, …)
   * @throws the signal's reason when `signal` aborts
   */
  async dial(
    target: DialTarget,
    options: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<UpstreamConn> {
    const { backend } = target;
    const svc = `${target.namespace}/${target.service}`;
    const ep = formatHostPort(backend.ip, backend.port);
    const node = backend.nodeName ?? "";
    const what = `Cannot dial "${svc}" endpoint ${ep} through node "${node}"`;
    if (this.#closed) {
      this.#fail("no-peer", new TunnelDialError("no-peer", `${what}: dialer closed`));
    }
    options.signal?.throwIfAborted();
    const peer = this.#pool.get(node);
    if (!peer) {
      this.#fail("no-peer", new TunnelDialError("no-peer", `${what}: no tunnel address known`));
    }
    const plan = dialPlan(peer.health, this.#clock(), peer.trial);
    if (plan === "wait") {
      const h = peer.health as Extract<PeerHealth, { state: "down" }>;
      const wait = Math.max(0, h.retryAt - this.#clock());
      this.#fail(
        "peer-down",
        new TunnelDialError(
          "peer-down",
          `${what}: peer is down (${h.lastError}), ${
            wait > 0 ? `retry in ${wait} ms` : "a trial dial is in flight"
          }`,
        ),
      );
    }
    if (plan === "dial") return this.#open(target, options, node, peer, what);
    peer.trial = true;
    try {
      return await this.#open(target, options, node, peer, what);
    } finally {
      peer.trial = false;
    }
  }

  /** {@linkcode dial} once the peer may be dialled: signs, opens the stream, awaits the answer. */
  async #open(
    target: DialTarget,
    options: { timeoutMs: number; signal?: AbortSignal },
    node: string,
    peer: Peer,
    what: string,
  ): Promise<UpstreamConn> {
    const { backend } = target;
    const svc = `${target.namespace}/${target.service}`;
    const ep = formatHostPort(backend.ip, backend.port);
    const key = await this.#key;
    const signed = await signRequest(
      key,
      targetHeaderValues({
        source: this.#opts.nodeName,
        namespace: target.namespace,
        service: target.service,
        port: target.port.port,
        endpointIp: backend.ip,
        endpointPort: backend.port,
      }),
      this.#now(),
    );
    const headers: http2.OutgoingHttpHeaders = {
      ":method": "POST",
      ":path": STREAM_PATH,
      // Deno's node:http2 (2.9.6) derives `:authority` from the URL without the brackets of an
      // IPv6 literal (`::1:40001`), which Deno.serve resets with PROTOCOL_ERROR: set it here.
      ":authority": formatHostPort(peer.address.host, peer.address.port),
    };
    for (const [k, v] of encodeStreamHeaders(signed, options.timeoutMs * REMOTE_DIAL_SHARE)) {
      headers[k] = v;
    }
    const pool = this.#pool;
    const started = this.#clock();
    const channel = await this.#channel(peer, what, options);
    // What is left of the dial's time after waiting for a session (a clock set back gives none).
    const waited = Math.max(0, this.#clock() - started);
    const timeoutMs = Math.max(1, options.timeoutMs - waited);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      pool.release(channel);
    };
    let req: http2.ClientHttp2Stream | null = null;
    let timedOut = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onAbort: (() => void) | undefined;
    let head: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader;
    try {
      head = await new Promise((resolve, reject) => {
        timer = setTimeout(() => {
          timedOut = true;
          reject(new DOMException("Tunnel dial timed out", "TimeoutError"));
        }, timeoutMs);
        onAbort = () => reject(options.signal?.reason);
        options.signal?.addEventListener("abort", onAbort, { once: true });
        const r = channel.session.request(headers);
        req = r;
        pool.opened(channel, r);
        r.once("response", (h) => {
          channel.received++;
          resolve(h);
        });
        r.once("error", reject);
        r.once("close", () => {
          reject(new Deno.errors.ConnectionReset(`stream closed before an answer (${r.rstCode})`));
        });
      });
    } catch (err) {
      closeStream(req);
      release();
      if (options.signal?.aborted) {
        this.#metrics.streams.inc({ direction: "out", result: "aborted" });
        throw options.signal.reason;
      }
      const detail = timedOut ? `no answer within ${options.timeoutMs} ms` : errorText(err);
      // A failure on a connection already given up (an earlier failure retired it, or the
      // peer moved) says nothing new about the peer: counting it doubled the backoff of a peer
      // whose trial had not even started, or marked down one a trial had just found up. Nor
      // does an extra connection the peer's front closed while another one serves.
      if (pool.failureCounts(channel)) pool.markDown(node, peer, detail);
      this.#fail(
        timedOut ? "timeout" : "peer-unreachable",
        new TunnelDialError(
          timedOut ? "timeout" : "peer-unreachable",
          `${what}: peer ${formatHostPort(peer.address.host, peer.address.port)} ${
            timedOut ? "did not answer" : "is unreachable"
          }: ${detail}`,
          { cause: err },
        ),
      );
    } finally {
      clearTimeout(timer);
      if (onAbort) options.signal?.removeEventListener("abort", onAbort);
    }
    const stream = req as unknown as http2.ClientHttp2Stream;
    pool.markUp(node, peer);
    const status = Number(head[":status"]);
    if (status !== 200) {
      const refusal = head[REFUSAL_HEADER];
      const reason = parseRefusal(typeof refusal === "string" ? refusal : null);
      const text = await readText(stream);
      closeStream(stream);
      release();
      this.#log.debug("tunnel stream refused", {
        peer: node,
        service: svc,
        endpoint: ep,
        status,
        reason,
      });
      if (isWarnedRefusal(reason)) this.#warnRefused(node, peer, reason);
      this.#fail(
        "refused",
        new TunnelDialError(
          reason ?? "refused",
          `${what}: peer refused (${reason ?? `HTTP ${status}`})${
            text && reason !== "unauthenticated" ? `: ${text.slice(0, 200)}` : ""
          }`,
        ),
      );
    }
    this.#metrics.streams.inc({ direction: "out", result: "ok" });
    this.#metrics.active.inc({ direction: "out" });
    const bytes = this.#metrics.bytes;
    const conn = new FramedChannel(STREAM_WINDOW, {
      onAbort: () => closeStream(stream),
      onBytes: (direction, n) => bytes.inc({ direction }, n),
      onDone: () => {
        this.#metrics.active.dec({ direction: "out" });
        release();
      },
    }, {
      sink: {
        write: (chunk) => void stream.write(chunk),
        end: () => void stream.end(),
      },
    });
    let ended = false;
    stream.on("data", (chunk: Uint8Array) => {
      channel.received++;
      conn.receive(chunk);
    });
    stream.once("end", () => {
      ended = true;
      conn.receiveEnd();
    });
    stream.once("error", (err) => conn.receiveError(err));
    stream.once("close", () => {
      if (!ended) conn.receiveError(new Deno.errors.ConnectionReset("Tunnel stream reset"));
    });
    return conn;
  }

  /**
   * The session a stream to `peer` goes to (`PeerPool.channel`); while the peer's stream limit
   * is not known yet on any of the sessions it may have, waits for it (within the dial's time).
   * The stream is counted on the session ({@linkcode PeerPool.acquire}) before this returns.
   * @throws {TunnelDialError} `peer-busy` when every session is at the peer's limit (the peer
   *   is up; not counted against its health), `timeout` when no limit arrived in time
   * @throws the signal's reason when `signal` aborts
   */
  async #channel(
    peer: Peer,
    what: string,
    options: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<Channel> {
    const deadline = this.#clock() + options.timeoutMs;
    for (;;) {
      const pick = this.#pool.channel(peer);
      if (pick.kind === "channel") {
        // Counted at once, in the same turn as the choice: the next dial sees it.
        this.#pool.acquire(pick.channel);
        return pick.channel;
      }
      const address = formatHostPort(peer.address.host, peer.address.port);
      if (pick.kind === "full") {
        this.#fail(
          "peer-busy",
          new TunnelDialError(
            "peer-busy",
            `${what}: peer ${address} is busy: ${pick.open} streams are open on the ` +
              `${pick.sessions} connections this thread may hold to it, each at the peer's ` +
              "stream limit (SETTINGS_MAX_CONCURRENT_STREAMS)",
          ),
        );
      }
      const left = deadline - this.#clock();
      const settled = left > 0 &&
        await waitFor(this.#pool.settled(peer), left, options.signal);
      if (options.signal?.aborted) {
        this.#metrics.streams.inc({ direction: "out", result: "aborted" });
        throw options.signal.reason;
      }
      if (!settled) {
        this.#fail(
          "timeout",
          new TunnelDialError(
            "timeout",
            `${what}: peer ${address} did not answer: its connections did not learn their ` +
              `stream limit within ${options.timeoutMs} ms`,
          ),
        );
      }
    }
  }

  /**
   * The peer refused our stream for a reason an operator must see at the default level, each
   * said as what it is — once per peer, reason and minute, with the count left out:
   * `unauthenticated` (a key that differs between the nodes, or clocks more than 60 s apart,
   * breaks every stream to it), `rate-limited` (this node's address opened more streams within
   * the peer's replay window than one address may), `cache-full` (the peer's nonce cache is
   * full with every peer's streams). Only the first is about the key.
   */
  #warnRefused(node: string, peer: Peer, reason: keyof typeof REFUSAL_WARNINGS): void {
    this.#authWarnings.warn(
      this.#log,
      reason === "unauthenticated" ? node : `${reason} ${node}`,
      `Peer "${node}" ${REFUSAL_WARNINGS[reason]}`,
      {
        peer: node,
        address: formatHostPort(peer.address.host, peer.address.port),
        ...(reason === "unauthenticated" ? {} : { reason }),
      },
    );
  }

  /**
   * Signs streams opened from now on with a new cluster key (a reload of `tunnelKeyFile`).
   * @throws {RangeError} when it is shorter than 32 bytes (the old key stays)
   */
  async setKey(key: Uint8Array): Promise<void> {
    this.#key = Promise.resolve(await importTunnelKey(key));
  }

  /**
   * Trusts a new CA bundle (a TLS reload) for connections opened from now on; sessions open
   * now keep the peer certificate they verified (they are not re-verified or closed).
   * @throws {TypeError} when the dialer dials h2c
   */
  setTls(tls: TunnelTls): void {
    if (this.#tls === null) throw new TypeError("The tunnel dials h2c: no CA to replace");
    this.#tls = tls;
    this.#pool.setTls(tls);
  }

  /** Closes every peer connection (streams still open finish first) and ends the probes. */
  close(): void {
    if (!this.#closed) this.#opts.onClose?.();
    this.#closed = true;
    this.#pool.close();
  }
}

/** What each refusal an operator must see says, after `Peer "NODE" `. */
const REFUSAL_WARNINGS = {
  unauthenticated: "rejects our tunnel key: check that both nodes use the same tunnelKeyFile " +
    "(and that their clocks agree within 60 s)",
  "rate-limited": "rate-limits our tunnel streams (rate-limited): this node opened more streams " +
    "within the peer's replay window than one address may; streams are refused until its " +
    "nonces expire (not a key problem)",
  "cache-full": "refuses tunnel streams: its nonce cache is full (cache-full: too many streams " +
    "from all its peers within the replay window; not a key problem)",
} as const satisfies Partial<Record<RefusalReason, string>>;

function isWarnedRefusal(r: RefusalReason | null): r is keyof typeof REFUSAL_WARNINGS {
  return r !== null && Object.hasOwn(REFUSAL_WARNINGS, r);
}

/** Whether `promise` settles within `ms` (false also when `signal` aborts first). */
function waitFor(promise: Promise<void>, ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (settled: boolean) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      resolve(settled);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(false), ms);
    signal?.addEventListener("abort", onAbort, { once: true });
    promise.then(() => done(true), () => done(true));
  });
}

/** Resets a stream (RST_STREAM CANCEL, RFC 9113 §8.4) unless it is closed already. */
function closeStream(req: http2.ClientHttp2Stream | null): void {
  if (req && !req.closed && !req.destroyed) req.close(http2.constants.NGHTTP2_CANCEL);
}

/** The (short) body of a refusal; empty when the stream fails first. */
function readText(req: http2.ClientHttp2Stream): Promise<string> {
  return new Promise((resolve) => {
    if (req.readableEnded || req.destroyed) return resolve("");
    let text = "";
    const decoder = new TextDecoder();
    req.on("data", (c: Uint8Array) => {
      if (text.length < 1024) text += decoder.decode(c, { stream: true });
    });
    req.once("end", () => resolve(text));
    req.once("error", () => resolve(text));
    req.once("close", () => resolve(text));
  });
}
