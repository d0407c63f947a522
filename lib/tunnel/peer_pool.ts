// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The dialing side's peers: {@linkcode PeerPool} holds each peer node's address, its HTTP/2
 * connections (sessions: the first opened on first use or by a probe, more while the others are
 * at the peer's stream limit, `session_choice.ts`; all retired when its address changes or it
 * fails) and its health (up, down with backoff), for `ctl status` too.
 * @module
 */
import * as http2 from "node:http2";
import * as net from "node:net";
import * as tls from "node:tls";
import type { Logger } from "../log/mod.ts";
import type { Snapshot } from "../registry/model.ts";
import { setConnectionKeepAlive, type TcpKeepAlive } from "../sys/keepalive.ts";
import type { TunnelTls } from "./dialer.ts";
import {
  HeartbeatMonitor,
  type HeartbeatPolicy,
  type HeartbeatTimers,
  requestHeartbeat,
} from "./heartbeat.ts";
import type { TunnelMetrics } from "./metrics.ts";
import {
  chooseSession,
  type SessionChoice,
  sessionLimit,
  type SessionPoolPolicy,
} from "./session_choice.ts";
import {
  afterFailure,
  type BackoffPolicy,
  buildPeerTable,
  PEER_UNKNOWN,
  PEER_UP,
  type PeerAddress,
  type PeerHealth,
} from "./peers.ts";
import type { SourceWatchPolicy } from "./source_watch.ts";
import { formatHostPort } from "./wire.ts";

/** One HTTP/2 connection (session) to a peer and the streams using it. */
export interface Channel {
  readonly session: http2.ClientHttp2Session;
  /** The peer it was opened to (it may have been replaced since: `retired`). */
  readonly peer: Peer;
  /** Streams open on it, dials waiting for their answer included ({@linkcode PeerPool.acquire}). */
  active: number;
  /** Answers and DATA chunks received on it, counted for the heartbeat (`heartbeat.ts`). */
  received: number;
  retired: boolean;
  /** The peer's `SETTINGS_MAX_CONCURRENT_STREAMS` on it; null until its SETTINGS arrived. */
  limit: number | null;
  /** The peer sent GOAWAY: no new streams go to it (it closes once its streams end). */
  goingAway: boolean;
  /** The close of a session beyond the first that has no streams ({@linkcode PeerPool.release}). */
  idleTimer: ReturnType<typeof setTimeout> | null;
  /**
   * HTTP/2 streams opened on it ({@linkcode PeerPool.opened}: dials and heartbeats) whose
   * `"close"` has not come yet. A stream we cancelled counts until then: its `RST_STREAM` may
   * still be on its way (deferred until the stream is ready).
   */
  streams: number;
  /** Destroys it anyway after {@linkcode QUIET_DESTROY_MAX_MS} (a stream that never closes). */
  quietTimer: ReturnType<typeof setTimeout> | null;
  /**
   * The local address it was opened from, once connected (`source_watch.ts`); null before,
   * and once its loss was handled.
   */
  source: string | null;
}

/**
 * The longest a retired session waits for its cancelled streams to close before it is
 * destroyed anyway, ms. A stream normally closes within a round trip of its `RST_STREAM`; one
 * queued on a connection that never completes closes when the connection fails.
 */
export const QUIET_DESTROY_MAX_MS = 10_000;

export interface Peer {
  readonly name: string;
  address: PeerAddress;
  /**
   * Its sessions, oldest first: those new streams may go to, and retired ones whose streams
   * have not ended yet (until they close).
   */
  channels: Channel[];
  /** The peer's last `SETTINGS_MAX_CONCURRENT_STREAMS`, for a new session until it has its own. */
  streamLimit: number | null;
  /** Resolved when one of its sessions learns its limit or closes ({@linkcode PeerPool.settled}). */
  settled: PromiseWithResolvers<void> | null;
  health: PeerHealth;
  /** A trial dial to this down peer is in flight (`dialPlan`): other dials fail fast. */
  trial: boolean;
}

/** A peer as shown by `ctl status`. */
export interface PeerStatus {
  readonly node: string;
  readonly address: string;
  readonly source: PeerAddress["source"];
  /**
   * `unknown` until a dial or probe has reached the peer or failed (with `probe`, while the
   * probe is in flight: the agent shows it as `connecting`), then `up` or `down`.
   */
  readonly state: PeerHealth["state"];
  /** `state === "up"`. */
  readonly up: boolean;
  /** While down: when the next dial may be tried (ms since the epoch) and the last error. */
  readonly retryAt?: number;
  readonly lastError?: string;
  /** Streams open to the peer (also on connections being retired). */
  readonly activeStreams: number;
  /** HTTP/2 connections open to the peer (also those being retired once their streams end). */
  readonly sessions: number;
}

/** What {@linkcode PeerPool} needs of the dialer (see `TunnelDialerOptions`), resolved. */
export interface PeerPoolOptions {
  readonly nodeName: string;
  /** Dial peers over TLS with this CA; null: h2c. */
  readonly tls: TunnelTls | null;
  /** Static peers from config (`peers`). */
  readonly configPeers: Readonly<Record<string, string>>;
  /** Tunnel port of peers learnt from Node objects. */
  readonly port: number;
  readonly log: Logger;
  readonly metrics: TunnelMetrics;
  /** The wall clock, for the times in {@linkcode PeerStatus}. */
  readonly now: () => number;
  /** The clock of peer health (backoff deadlines): monotonic in production. */
  readonly clock: () => number;
  readonly backoff: BackoffPolicy;
  /** Probe each new peer at once (see `#probe`). */
  readonly probe: boolean;
  readonly probeTimeoutMs: number;
  readonly keepAlive: TcpKeepAlive | null;
  /** Heartbeats on sessions with open streams (`heartbeat.ts`); null: none. */
  readonly heartbeat: HeartbeatPolicy | null;
  /** The heartbeat's timer (tests drive a fake one). @default globalThis */
  readonly timers?: HeartbeatTimers;
  /** How streams to one peer spread over sessions (`session_choice.ts`). */
  readonly sessions: SessionPoolPolicy;
  /** Close connections whose source address left the node (`source_watch.ts`); null: never. */
  readonly sourceWatch: SourceWatchPolicy | null;
}

/** The peers of one `TunnelDialer`: addresses, connections, health. */
export class PeerPool {
  readonly #nodeName: string;
  #tls: TunnelTls | null;
  readonly #configPeers: Readonly<Record<string, string>>;
  readonly #port: number;
  readonly #log: Logger;
  readonly #metrics: TunnelMetrics;
  readonly #now: () => number;
  readonly #clock: () => number;
  readonly #backoff: BackoffPolicy;
  readonly #probeNew: boolean;
  readonly #probeTimeoutMs: number;
  readonly #keepAlive: TcpKeepAlive | null;
  readonly #heartbeat: HeartbeatMonitor<Channel> | null;
  readonly #sessions: SessionPoolPolicy;
  #peers = new Map<string, Peer>();
  #closed = false;
  /** A down peer's next probe, due when its backoff ends (see `#reprobeLater`). */
  readonly #reprobes = new Map<Peer, ReturnType<typeof setTimeout>>();
  /** Probes in flight: each one's `finish` (see `#probe`). */
  readonly #probes = new Set<(error: string | null) => void>();
  #probesDone: PromiseWithResolvers<void> | null = null;
  /** Every session not yet closed, retired ones and those of peers gone from the table included. */
  readonly #channels = new Set<Channel>();
  readonly #sourceWatch: SourceWatchPolicy | null;
  readonly #sourceTimer: ReturnType<typeof setInterval> | null;
  #sourcesLookedAt = -Infinity;

  /**
   * @throws {SyntaxError|RangeError} when a config peer is not an address
   * @throws {RangeError} when the session policy is out of range
   */
  constructor(options: PeerPoolOptions) {
    const sp = options.sessions;
    if (
      !(Number.isInteger(sp.maxSessions) && sp.maxSessions > 0) ||
      !(sp.maxStreamsPerSession === null || sp.maxStreamsPerSession >= 1) ||
      !(sp.idleCloseMs >= 0)
    ) {
      throw new RangeError(
        `Cannot pool tunnel sessions with maxSessions ${sp.maxSessions}, ` +
          `maxStreamsPerSession ${sp.maxStreamsPerSession} and idleCloseMs ${sp.idleCloseMs}: ` +
          "use a positive integer, null or at least 1, and at least 0",
      );
    }
    this.#sessions = sp;
    this.#nodeName = options.nodeName;
    this.#tls = options.tls;
    this.#configPeers = options.configPeers;
    this.#port = options.port;
    this.#log = options.log;
    this.#metrics = options.metrics;
    this.#now = options.now;
    this.#clock = options.clock;
    this.#backoff = options.backoff;
    this.#probeNew = options.probe;
    this.#probeTimeoutMs = options.probeTimeoutMs;
    this.#keepAlive = options.keepAlive;
    const policy = options.heartbeat;
    this.#heartbeat = policy === null ? null : new HeartbeatMonitor<Channel>({
      policy,
      clock: this.#clock,
      timers: options.timers,
      send: (ch, answered) => {
        const req = requestHeartbeat(
          ch.session,
          formatHostPort(ch.peer.address.host, ch.peer.address.port),
          answered,
        );
        if (req !== null) this.opened(ch, req);
      },
      // Out of the timer's callback as well: closing a session inside `node:http2`'s own
      // callbacks has crashed Deno 2.9.6 (see README, Peer health).
      hung: (ch, waitedMs) => void setTimeout(() => this.#hung(ch, policy, waitedMs), 0),
    });
    const watch = this.#sourceWatch = options.sourceWatch;
    this.#sourceTimer = watch === null
      ? null
      : setInterval(() => this.#lookAtSources(), watch.intervalMs);
    this.setTable(buildPeerTable([], this.#configPeers, this.#port, this.#nodeName));
  }

  /** Learns peer addresses from the snapshot's Node objects (config `peers` still win). */
  update(snapshot: Snapshot): void {
    this.setTable(
      buildPeerTable(snapshot.nodes.values(), this.#configPeers, this.#port, this.#nodeName),
    );
  }

  /** The peer `node`, if its address is known. */
  get(node: string): Peer | undefined {
    return this.#peers.get(node);
  }

  /** Whether a tunnel address is known for `nodeName`. */
  has(nodeName: string): boolean {
    return this.#peers.has(nodeName);
  }

  /** Connections opened from now on trust this CA bundle (a TLS reload). */
  setTls(tls: TunnelTls): void {
    this.#tls = tls;
  }

  /** Closes every peer connection (streams still open finish first) and ends the probes. */
  close(): void {
    this.#closed = true;
    this.#heartbeat?.close();
    clearInterval(this.#sourceTimer ?? undefined);
    for (const timer of this.#reprobes.values()) clearTimeout(timer);
    this.#reprobes.clear();
    for (const finish of [...this.#probes]) finish("dialer closed");
    for (const peer of this.#peers.values()) this.retire(peer);
  }

  /** Takes the peer table (`buildPeerTable`): keeps the peers whose address stayed, etc. */
  setTable(table: ReadonlyMap<string, PeerAddress>): void {
    const next = new Map<string, Peer>();
    for (const [name, address] of table) {
      const old = this.#peers.get(name);
      if (old && old.address.host === address.host && old.address.port === address.port) {
        old.address = address;
        next.set(name, old);
        continue;
      }
      if (old) this.retire(old);
      const peer: Peer = {
        name,
        address,
        channels: [],
        streamLimit: null,
        settled: null,
        health: PEER_UNKNOWN,
        trial: false,
      };
      next.set(name, peer);
      this.#metrics.peerUp.set({ peer: name }, 0);
      this.#metrics.peerSessions.set({ peer: name }, 0);
      this.#log.debug("tunnel peer address", {
        peer: name,
        address: formatHostPort(address.host, address.port),
        source: address.source,
      });
    }
    for (const [name, old] of this.#peers) {
      if (!next.has(name)) {
        this.retire(old);
        this.#metrics.peerUp.remove({ peer: name });
        this.#metrics.peerSessions.remove({ peer: name });
      }
    }
    this.#peers = next;
    if (this.#probeNew && !this.#closed) {
      for (const [name, peer] of next) {
        if (peer.health.state === "unknown" && !this.#hasUsable(peer)) this.#probe(name, peer);
      }
    }
  }

  /**
   * Learns whether a new peer is reachable before traffic needs it: opens its connection (TCP,
   * TLS with the certificate check when configured, HTTP/2) and marks the peer up once that
   * connects, down (with the backoff and the warning of a failed dial) when it fails or takes
   * longer than `probeTimeoutMs`. Then the connection is closed unless a stream has started on
   * it: no standing connection to peers this node never sends to. It does not prove the key —
   * only a stream does (a refusal is logged, see `TunnelDialer.dial`).
   */
  #probe(name: string, peer: Peer): void {
    const ch = this.#open(peer);
    const { session } = ch;
    const timeoutMs = this.#probeTimeoutMs;
    const finish = (error: string | null) => {
      if (!this.#probes.delete(finish)) return;
      clearTimeout(timer);
      session.off("connect", onConnect);
      session.off("error", onError);
      session.off("close", onClose);
      if (!this.#closed && this.#peers.get(name) === peer) {
        if (error === null) this.markUp(name, peer);
        else this.markDown(name, peer, error);
      }
      if (!ch.retired && ch.active === 0) this.#retireChannel(ch);
      if (this.#probes.size === 0) {
        this.#probesDone?.resolve();
        this.#probesDone = null;
      }
    };
    const onConnect = () => finish(null);
    const onError = (err: unknown) => finish(errorText(err));
    const onClose = () => finish("connection closed");
    session.once("connect", onConnect);
    session.once("error", onError);
    session.once("close", onClose);
    const timer = setTimeout(() => finish(`no connection within ${timeoutMs} ms`), timeoutMs);
    this.#probes.add(finish);
  }

  /** Resolves once no probe is in flight (meanwhile those peers are `unknown`). */
  probed(): Promise<void> {
    if (this.#probes.size === 0) return Promise.resolve();
    return (this.#probesDone ??= Promise.withResolvers()).promise;
  }

  /** Peers with address and health, for `ctl status`. */
  status(): PeerStatus[] {
    return [...this.#peers].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(([node, p]) => ({
      node,
      address: formatHostPort(p.address.host, p.address.port),
      source: p.address.source,
      state: p.health.state,
      up: p.health.state === "up",
      ...(p.health.state === "down"
        // Health runs on the monotonic clock; status speaks epoch milliseconds.
        ? { retryAt: this.#now() + p.health.retryAt - this.#clock(), lastError: p.health.lastError }
        : {}),
      activeStreams: p.channels.reduce((n, ch) => n + ch.active, 0),
      sessions: p.channels.length,
    }));
  }

  /**
   * The session a new stream to `peer` goes to ({@linkcode chooseSession}): the oldest with
   * room below the peer's stream limit (one stream kept for the heartbeat), else a new one;
   * `wait` while some of `maxSessions` sessions wait for the peer's SETTINGS (see
   * {@linkcode settled}), `full` when all are at the limit.
   */
  channel(peer: Peer): ChannelPick {
    const watch = this.#sourceWatch;
    if (watch !== null && this.#clock() - this.#sourcesLookedAt >= watch.dialLookMs) {
      this.#lookAtSources();
    }
    const open = peer.channels.filter(isUsable);
    const cap = this.#sessions.maxStreamsPerSession;
    const choice = chooseSession(
      open.map((ch) => ({
        open: ch.active,
        limit: sessionLimit(ch.limit ?? peer.streamLimit, cap),
      })),
      this.#sessions.maxSessions,
    );
    switch (choice.kind) {
      case "use":
        return { kind: "channel", channel: open[choice.index]! };
      case "open":
        return { kind: "channel", channel: this.#open(peer) };
      case "wait":
      case "full":
        return choice;
    }
  }

  /** Resolves when one of `peer`'s sessions has learnt its stream limit or closed. */
  settled(peer: Peer): Promise<void> {
    return (peer.settled ??= Promise.withResolvers()).promise;
  }

  #settle(peer: Peer): void {
    peer.settled?.resolve();
    peer.settled = null;
  }

  /**
   * Opens a new session to the peer. Why `node:http2` and not `fetch` with
   * `Deno.createHttpClient`: Deno's fetch client turns Nagle's algorithm on for its socket
   * (`TCP_NODELAY` 0) and offers no option to change it, so every small frame (credit, FIN, a
   * short request) waited for the peer's delayed ACK (up to 40 ms on Linux); here the socket is
   * ours and gets `setNoDelay(true)`. Both use Deno's own HTTP/2 implementation.
   */
  #open(peer: Peer): Channel {
    const { host, port } = peer.address;
    const t = this.#tls;
    const authority = `${t ? "https" : "http"}://${formatHostPort(host, port)}`;
    const session = http2.connect(authority, {
      createConnection: () => {
        const socket = t
          ? tls.connect({
            host,
            port,
            ca: [t.ca],
            ALPNProtocols: ["h2"],
            ...(net.isIP(host) === 0 ? { servername: host } : {}),
          })
          : net.connect({ host, port });
        socket.setNoDelay(true);
        const ka = this.#keepAlive;
        if (ka !== null) socket.once("connect", () => keepAlive(socket, ka));
        return socket;
      },
    });
    const ch: Channel = {
      session,
      peer,
      active: 0,
      received: 0,
      retired: false,
      limit: null,
      goingAway: false,
      idleTimer: null,
      streams: 0,
      quietTimer: null,
      source: null,
    };
    // Failures reach the streams on the session (their "error"/"close"); a session-level
    // error only needs to retire the connection.
    session.on("error", () => {});
    session.on("remoteSettings", (settings: http2.Settings) => {
      const limit = settings.maxConcurrentStreams;
      if (limit === undefined) return;
      ch.limit = limit;
      peer.streamLimit = limit;
      this.#settle(peer);
    });
    session.once("connect", () => {
      ch.source = session.socket?.localAddress ?? null;
    });
    session.once("close", () => {
      this.#channels.delete(ch);
      clearTimeout(ch.idleTimer ?? undefined);
      ch.idleTimer = null;
      clearTimeout(ch.quietTimer ?? undefined);
      ch.quietTimer = null;
      const i = peer.channels.indexOf(ch);
      if (i >= 0) peer.channels.splice(i, 1);
      this.#countSessions(peer);
      this.#heartbeat?.untrack(ch);
      this.#settle(peer);
    });
    session.once("goaway", () => {
      ch.goingAway = true;
    });
    this.#heartbeat?.track(ch);
    this.#channels.add(ch);
    peer.channels.push(ch);
    this.#countSessions(peer);
    return ch;
  }

  /**
   * Closes every session whose source address is no longer the node's (`source_watch.ts`):
   * one check per distinct source address.
   */
  #lookAtSources(): void {
    const watch = this.#sourceWatch;
    if (watch === null || this.#closed) return;
    this.#sourcesLookedAt = this.#clock();
    const local = new Map<string, boolean | null>();
    for (const ch of this.#channels) {
      const { source } = ch;
      if (source === null || ch.session.destroyed) continue;
      let is = local.get(source);
      if (is === undefined) local.set(source, is = watch.isLocal(source));
      if (is === false) this.#sourceLost(ch, source);
    }
  }

  /**
   * `ch`'s source address left the node: no packet of it can be answered any more. Retired
   * (new streams go to a fresh session from a current address) and destroyed with an error
   * from a timer of its own, so its streams fail now (their clients are reset) instead of
   * stalling until the heartbeat or keepalive; without streams it closes as a retired session
   * does. The peer's health is not touched: it did nothing, and a failure on a retired session
   * does not count against it ({@linkcode failureCounts}).
   */
  #sourceLost(ch: Channel, source: string): void {
    ch.source = null;
    const { peer } = ch;
    this.#metrics.sourceLost.inc({ peer: peer.name });
    this.#log.warn("tunnel connection lost its source address", {
      peer: peer.name,
      address: formatHostPort(peer.address.host, peer.address.port),
      source,
      streams: ch.active,
    });
    ch.retired = true;
    clearTimeout(ch.idleTimer ?? undefined);
    ch.idleTimer = null;
    if (ch.active === 0) return this.#destroyWhenQuiet(ch);
    const error = new Deno.errors.ConnectionReset(
      `Tunnel connection to peer "${peer.name}" lost its source address ${source}: ` +
        "the address is no longer on this node",
    );
    setTimeout(() => {
      if (!ch.session.destroyed) ch.session.destroy(error);
    }, 0);
  }

  /** `edgemesh_tunnel_peer_sessions{peer}` of a peer in the table. */
  #countSessions(peer: Peer): void {
    if (this.#peers.get(peer.name) !== peer) return;
    this.#metrics.peerSessions.set({ peer: peer.name }, peer.channels.length);
  }

  /** Whether new streams may go to one of the peer's sessions. */
  #hasUsable(peer: Peer): boolean {
    return peer.channels.some(isUsable);
  }

  /** Whether `ch` is a usable session of its peer other than the oldest one. */
  #isExtra(ch: Channel): boolean {
    return isUsable(ch) && ch.peer.channels.find(isUsable) !== ch;
  }

  /**
   * Whether a failed dial on `ch` says something about its peer's health. Not on a session
   * already retired (an earlier failure gave it up, or the peer moved, or its source address
   * left the node: looked at now), nor on a session beyond
   * the first that never got the peer's SETTINGS while another one did: the peer serves, and
   * its front closed the extra connection at once, as it does beyond its per-address cap.
   */
  failureCounts(ch: Channel): boolean {
    // A dial that timed out on a session whose source left the node is the first sign of it
    // when no look came in between (`source_watch.ts`): that retires the session.
    if (!ch.retired && ch.source !== null) this.#lookAtSources();
    if (ch.retired) return false;
    if (ch.limit !== null) return true;
    return !ch.peer.channels.some((other) =>
      other !== ch && isUsable(other) && other.limit !== null
    );
  }

  /** Drops all of a peer's sessions: no new streams go to them; each closes after its last. */
  retire(peer: Peer): void {
    for (const ch of peer.channels) this.#retireChannel(ch);
  }

  /** No new streams go to `ch`; it closes now if it has none, else after its last. */
  #retireChannel(ch: Channel): void {
    ch.retired = true;
    clearTimeout(ch.idleTimer ?? undefined);
    ch.idleTimer = null;
    if (ch.active === 0) this.#destroyWhenQuiet(ch);
  }

  /**
   * A stream was opened on `ch` with `session.request()`: counted until its `"close"`, so that
   * the session outlives it ({@linkcode Channel.streams}).
   */
  opened(ch: Channel, stream: http2.ClientHttp2Stream): void {
    ch.streams++;
    stream.once("close", () => {
      ch.streams--;
      // Retired with no dial left: `#destroyWhenQuiet` waits for this.
      if (ch.streams === 0 && ch.retired && ch.active === 0) this.#destroySoon(ch);
    });
  }

  /**
   * Destroys `ch` once every stream opened on it has closed, and out of the current call.
   *
   * Why not at once: Deno 2.9.6's `node:http2` sends a cancelled stream's `RST_STREAM` later
   * (once the stream is ready, then flushed), and destroying the session in between frees the
   * nghttp2 session that send then uses: the process dies with SIGSEGV inside
   * `nghttp2_session_get_stream` (found with `bench/micro/tunnel_churn.ts`: dials cancelled
   * by a 1 ms timeout whose failure retired the session crashed 4 of 6 45-second runs, 0 of 10
   * with this). The soak's agents died in the same nghttp2 function while its teardown deleted
   * the services and nodes (bench/README.md "Soak runs").
   */
  #destroyWhenQuiet(ch: Channel): void {
    if (ch.streams === 0) return this.#destroySoon(ch);
    ch.quietTimer ??= setTimeout(() => {
      ch.quietTimer = null;
      this.#destroySoon(ch);
    }, this.#sessions.quietDestroyMaxMs ?? QUIET_DESTROY_MAX_MS);
  }

  /** Destroys `ch` from a timer of its own: never inside a `node:http2` callback. */
  #destroySoon(ch: Channel): void {
    clearTimeout(ch.quietTimer ?? undefined);
    ch.quietTimer = null;
    setTimeout(() => {
      if (!ch.session.destroyed) ch.session.destroy();
    }, 0);
  }

  /** A stream starts on `ch` (its dial is sent): the heartbeat watches sessions with streams. */
  acquire(ch: Channel): void {
    ch.active++;
    clearTimeout(ch.idleTimer ?? undefined);
    ch.idleTimer = null;
    this.#heartbeat?.wake();
  }

  /**
   * `ch`'s peer did not answer a heartbeat within the policy's timeout: its agent is hung (its
   * kernel still acknowledges, or keepalive would have ended the connection). The session is
   * destroyed with an error, so every stream on it fails and the proxy closes their client
   * connections, and the peer is marked down as by a failed dial (backoff, `tunnel peer down`);
   * the next dial after the backoff opens a new connection. A connection already retired (the
   * peer was marked down meanwhile, or moved) changes nothing about the peer's health.
   */
  #hung(ch: Channel, policy: HeartbeatPolicy, waitedMs: number): void {
    if (ch.session.destroyed) return;
    const { peer } = ch;
    const seconds = Math.round(policy.timeoutMs / 100) / 10;
    const error = `did not answer a heartbeat within ${seconds} s`;
    this.#metrics.heartbeatFailures.inc({ peer: peer.name });
    this.#log.debug("tunnel heartbeat failed", {
      peer: peer.name,
      address: formatHostPort(peer.address.host, peer.address.port),
      streams: ch.active,
      waitedMs,
    });
    if (!ch.retired && this.#peers.get(peer.name) === peer) this.markDown(peer.name, peer, error);
    ch.retired = true;
    ch.session.destroy(new Deno.errors.TimedOut(`Tunnel peer "${peer.name}" ${error}`));
  }

  /**
   * A stream on `ch` has ended: a retired connection closes with its last stream, and a session
   * beyond the peer's first once it has had none for `idleCloseMs` (from a timer of its own).
   */
  release(ch: Channel): void {
    ch.active--;
    if (ch.active !== 0) return;
    if (ch.retired) {
      this.#destroyWhenQuiet(ch);
      return;
    }
    if (!this.#isExtra(ch)) return;
    clearTimeout(ch.idleTimer ?? undefined);
    ch.idleTimer = setTimeout(() => {
      ch.idleTimer = null;
      // A stream came back, or the sessions before it closed: it is the first now.
      if (ch.active === 0 && this.#isExtra(ch)) this.#retireChannel(ch);
    }, this.#sessions.idleCloseMs);
  }

  /** A dial or probe of `peer` failed with `error`: backoff, metric, warning (the first time). */
  markDown(name: string, peer: Peer, error: string): void {
    const wasUp = peer.health.state !== "down"; // up, or not reached yet: its first failure
    peer.health = afterFailure(
      peer.health,
      this.#clock(),
      error,
      this.#backoff,
    );
    if (this.#peers.get(name) !== peer) return;
    this.#metrics.peerUp.set({ peer: name }, 0);
    // A fresh connection on the next trial: the old one may be half-dead.
    this.retire(peer);
    const fields = {
      peer: name,
      address: formatHostPort(peer.address.host, peer.address.port),
      error,
      retryInMs: peer.health.state === "down" ? peer.health.delayMs : 0,
    };
    if (wasUp) this.#log.warn("tunnel peer down", fields);
    else this.#log.debug("tunnel peer still down", fields);
    this.#reprobeLater(name, peer);
  }

  /**
   * With `probe`, a down peer is probed again when its backoff ends (and again, with the
   * backoff doubled, as long as it stays down). Without it only a dial tried the peer again: a
   * peer marked down by one dial stalled on a connection that an uplink change had cut (its
   * route or its device deleted, QA in network namespaces) stayed `down` in `ctl status` and
   * `edgemesh_tunnel_peer_up`, with no `tunnel peer up` line, for as long as no new connection
   * to it happened to reach this thread, while the proxy threads' own dialers were reaching it.
   * Costs one connection per down peer and backoff period (at most one per 30 s).
   */
  #reprobeLater(name: string, peer: Peer): void {
    if (!this.#probeNew || this.#closed || peer.health.state !== "down") return;
    clearTimeout(this.#reprobes.get(peer));
    const timer = setTimeout(() => {
      this.#reprobes.delete(peer);
      // Moved, removed, back up, or a trial dial is testing it already (its end decides).
      if (this.#closed || this.#peers.get(name) !== peer) return;
      if (peer.health.state !== "down" || peer.trial || this.#hasUsable(peer)) return;
      this.#probe(name, peer);
    }, Math.max(0, peer.health.retryAt - this.#clock()));
    this.#reprobes.set(peer, timer);
  }

  /** A dial or probe reached `peer`. */
  markUp(name: string, peer: Peer): void {
    const was = peer.health.state;
    if (was === "up") return;
    peer.health = PEER_UP;
    if (this.#peers.get(name) !== peer) return;
    this.#metrics.peerUp.set({ peer: name }, 1);
    const fields = { peer: name, address: formatHostPort(peer.address.host, peer.address.port) };
    // Back from down is news; first reached (every peer, at start) is not.
    if (was === "down") this.#log.info("tunnel peer up", fields);
    else this.#log.debug("tunnel peer reachable", fields);
  }
}

/** Where a new stream to a peer goes ({@linkcode PeerPool.channel}). */
export type ChannelPick =
  | { readonly kind: "channel"; readonly channel: Channel }
  | Extract<SessionChoice, { kind: "wait" | "full" }>;

/** Whether new streams may go to `ch`: not retired, no GOAWAY received, not closed. */
function isUsable(ch: Channel): boolean {
  return !ch.retired && !ch.goingAway && !ch.session.closed && !ch.session.destroyed;
}

/** The message of `err` with up to three causes. */
export function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  let msg = err.message;
  let cause = err.cause;
  for (let i = 0; i < 3 && cause instanceof Error; i++) {
    msg += `: ${cause.message}`;
    cause = cause.cause;
  }
  return msg;
}

/**
 * Keepalive with `ka`'s timing on a peer connection's socket, just connected: a peer that
 * vanishes (power, link) would otherwise hold the connection and every stream on it for good.
 * Without the C library only `SO_KEEPALIVE` and the idle time can be set (`node:net`), and the
 * system's probe interval and count apply.
 */
function keepAlive(socket: net.Socket, ka: TcpKeepAlive): void {
  const local = socket.localPort;
  const remote = socket.remotePort;
  if (local !== undefined && remote !== undefined && setConnectionKeepAlive(local, remote, ka)) {
    return;
  }
  socket.setKeepAlive(true, ka.idleSec * 1000);
}
