// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Which HTTP/2 session (connection) of a peer a new stream goes to. A peer caps the streams
 * open at once on one session (`SETTINGS_MAX_CONCURRENT_STREAMS`, RFC 9113 §6.5.2: 200 for
 * Deno 2.9.6's `Deno.serve`); a stream beyond it waits in the client until another ends, so
 * the 201st proxied connection's dial timed out and marked a healthy peer down. As HTTP/2
 * connection pools do (Envoy opens a new connection when the existing ones are at the peer's
 * limit), a peer may have several sessions: a stream goes to the oldest one with room, else a
 * new one is opened, up to {@linkcode SessionPoolPolicy.maxSessions}.
 *
 * {@linkcode chooseSession} is the decision, pure; `PeerPool` applies it.
 * @module
 */

/**
 * Streams kept free on every session for the heartbeat's `GET /v1/ping` (`heartbeat.ts`): it
 * is not counted among the session's streams, and queued behind a full session it would take a
 * healthy peer for hung.
 */
export const HEARTBEAT_RESERVE = 1;

/** The limit assumed for a session whose peer has not sent its SETTINGS yet (RFC 9113 §6.5.2). */
export const ASSUMED_STREAM_LIMIT = 100;

/** Default {@linkcode SessionPoolPolicy.maxSessions}. */
export const MAX_SESSIONS_PER_PEER = 4;

/** Default {@linkcode SessionPoolPolicy.idleCloseMs}. */
export const SESSION_IDLE_CLOSE_MS = 10_000;

/** How a dialer spreads its streams to one peer over sessions (`TunnelDialerOptions.sessions`). */
export interface SessionPoolPolicy {
  /**
   * Most sessions one dialer (one proxy thread) holds to one peer. Each is a connection the
   * peer's front counts against this node's address (`maxConnectionsPerAddress`).
   */
  readonly maxSessions: number;
  /**
   * Streams per session at most, below the peer's own limit when smaller (tests: a small cap);
   * null: the peer's limit alone.
   */
  readonly maxStreamsPerSession: number | null;
  /** How long a session beyond the first stays open once its last stream ended, ms. */
  readonly idleCloseMs: number;
  /**
   * The longest a retired session waits for its streams to close before it is destroyed
   * anyway, ms (tests: a short one). @default {@linkcode QUIET_DESTROY_MAX_MS} in `peer_pool.ts`
   */
  readonly quietDestroyMaxMs?: number;
}

/** The production policy: up to 4 sessions per peer and dialer, extra ones closed idle 10 s. */
export const DEFAULT_SESSION_POOL: SessionPoolPolicy = {
  maxSessions: MAX_SESSIONS_PER_PEER,
  maxStreamsPerSession: null,
  idleCloseMs: SESSION_IDLE_CLOSE_MS,
};

/** One usable session of a peer, as {@linkcode chooseSession} sees it. */
export interface SessionLoad {
  /** Streams open on it, dials waiting for their answer included (not the heartbeat). */
  readonly open: number;
  /**
   * Streams the peer allows open at once on it (its SETTINGS, or the policy's cap); null while
   * unknown (the peer's SETTINGS have not arrived, and it sent none before):
   * {@linkcode ASSUMED_STREAM_LIMIT} is assumed.
   */
  readonly limit: number | null;
}

/** Where a new stream goes. */
export type SessionChoice =
  /** The session at `index` has room. */
  | { readonly kind: "use"; readonly index: number }
  /** Every session is at its limit and another may be opened. */
  | { readonly kind: "open" }
  /** Every session is at its limit, some at one assumed: ask again once the peer's is known. */
  | { readonly kind: "wait" }
  /** Every session is at its limit and there are `maxSessions` of them. */
  | { readonly kind: "full"; readonly sessions: number; readonly open: number };

/**
 * Streams a session can still take, one kept for the heartbeat ({@linkcode HEARTBEAT_RESERVE});
 * a peer that allows a single stream per session gets no reserve (its heartbeat waits, but a
 * stream can go there at all).
 */
export function sessionRoom(s: SessionLoad): number {
  return Math.max(0, usableLimit(s.limit ?? ASSUMED_STREAM_LIMIT) - s.open);
}

function usableLimit(limit: number): number {
  return limit > HEARTBEAT_RESERVE ? limit - HEARTBEAT_RESERVE : limit;
}

/**
 * The session of `sessions` (oldest first) a new stream goes to: the oldest with room, so
 * streams pack onto the first and the others empty out and close. None with room: while a
 * session's limit is still unknown the stream waits for its SETTINGS, which usually allow more
 * than the 100 assumed (a burst at start would otherwise open a connection per 99 streams, or
 * queue in the client beyond the peer's limit if it went there unchecked); else a new session
 * is opened, unless there are `maxSessions` already.
 * @throws {RangeError} when `maxSessions` is not a positive integer
 */
export function chooseSession(
  sessions: readonly SessionLoad[],
  maxSessions: number,
): SessionChoice {
  if (!(Number.isInteger(maxSessions) && maxSessions > 0)) {
    throw new RangeError(
      `Cannot spread tunnel streams over ${maxSessions} sessions per peer: it must be a ` +
        "positive integer",
    );
  }
  const index = sessions.findIndex((s) => sessionRoom(s) > 0);
  if (index >= 0) return { kind: "use", index };
  if (sessions.some((s) => s.limit === null)) return { kind: "wait" };
  if (sessions.length < maxSessions) return { kind: "open" };
  const open = sessions.reduce((n, s) => n + s.open, 0);
  return { kind: "full", sessions: sessions.length, open };
}

/**
 * The limit of a session: the peer's `SETTINGS_MAX_CONCURRENT_STREAMS` on it once received,
 * else the last one this peer sent (`peerLimit`, null if none yet), capped by the policy's
 * `cap` (an unknown limit counts as {@linkcode ASSUMED_STREAM_LIMIT} then).
 */
export function sessionLimit(peerLimit: number | null, cap: number | null): number | null {
  if (cap === null) return peerLimit;
  return Math.min(peerLimit ?? ASSUMED_STREAM_LIMIT, cap);
}
