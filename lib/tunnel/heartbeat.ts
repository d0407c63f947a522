// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The dialer's heartbeat: a peer whose kernel still answers but whose agent is hung (`SIGSTOP`,
 * a deadlocked event loop) keeps its TCP connection alive, so keepalive never ends the streams
 * carried to it and they, and the proxied client connections with them, would wait for good.
 * An HTTP/2 PING would see it, but Deno 2.9.6's `node:http2` crashed around PINGs, so the
 * heartbeat is an ordinary request instead (`GET /v1/ping`, {@linkcode PING_PATH}), as Envoy's
 * HTTP/2 keepalive does with PINGs: on a session with open streams on which nothing has been
 * received for `intervalMs`, one is sent; if nothing is received within `timeoutMs` after it,
 * the peer counts as hung and the session is destroyed with an error.
 *
 * {@linkcode heartbeatAction} is the decision, pure; {@linkcode HeartbeatMonitor} runs it on a
 * timer for every session of a `PeerPool`; {@linkcode requestHeartbeat} is the request.
 * @module
 */
import * as http2 from "node:http2";
import { PING_PATH } from "./wire.ts";

/** Default quiet time on a session with open streams before a heartbeat is sent, ms. */
export const HEARTBEAT_INTERVAL_MS = 15_000;

/** Default time a heartbeat's answer may take before the peer counts as hung, ms. */
export const HEARTBEAT_TIMEOUT_MS = 10_000;

/** Default period of the timer that looks at the sessions, ms (the detection's granularity). */
export const HEARTBEAT_TICK_MS = 1_000;

/** Timing of the heartbeat (`TunnelDialerOptions.heartbeat`). */
export interface HeartbeatPolicy {
  /** Quiet time (nothing received) on a session with open streams before a heartbeat, ms. */
  readonly intervalMs: number;
  /** Time after a heartbeat within which something must be received, ms. */
  readonly timeoutMs: number;
  /** How often the sessions are looked at, ms. */
  readonly tickMs: number;
}

/** The production timing: a hung peer is given up within about 15 + 10 + 2 × 1 s. */
export const DEFAULT_HEARTBEAT: HeartbeatPolicy = {
  intervalMs: HEARTBEAT_INTERVAL_MS,
  timeoutMs: HEARTBEAT_TIMEOUT_MS,
  tickMs: HEARTBEAT_TICK_MS,
};

/** What {@linkcode heartbeatAction} looks at for one session. */
export interface HeartbeatState {
  /** Streams open on the session (dials waiting for their answer included). */
  readonly openStreams: number;
  /** When something was last received on the session, or when its streams began, ms. */
  readonly lastReceivedAt: number;
  /** When the heartbeat in flight was sent, ms; null when none is. */
  readonly sentAt: number | null;
}

/** What to do about one session now. */
export type HeartbeatAction =
  /** No open stream: nothing to protect (a heartbeat in flight is forgotten). */
  | { readonly kind: "idle" }
  /** Heard from recently, or the heartbeat in flight still has time. */
  | { readonly kind: "wait" }
  /** Something arrived after the heartbeat went out: the peer is alive. */
  | { readonly kind: "answered" }
  /** Quiet for `intervalMs`: send a heartbeat. */
  | { readonly kind: "send" }
  /** The heartbeat got no answer within `timeoutMs`: the peer is hung. */
  | { readonly kind: "hung"; readonly waitedMs: number };

/**
 * Decides what the heartbeat does about a session at `now`. Any answer counts — a heartbeat's
 * own response, data of another stream, a dial's answer — since each proves the peer's event
 * loop runs; an idle session is left alone (its next stream's dial has a timeout of its own).
 * @throws {RangeError} when the policy's durations are not positive
 */
export function heartbeatAction(
  s: HeartbeatState,
  now: number,
  policy: Pick<HeartbeatPolicy, "intervalMs" | "timeoutMs">,
): HeartbeatAction {
  if (!(policy.intervalMs > 0 && policy.timeoutMs > 0)) {
    throw new RangeError(
      `Cannot time tunnel heartbeats every ${policy.intervalMs} ms with ${policy.timeoutMs} ms ` +
        "to answer: both must be positive",
    );
  }
  if (s.openStreams <= 0) return { kind: "idle" };
  if (s.sentAt !== null) {
    if (s.lastReceivedAt > s.sentAt) return { kind: "answered" };
    const waitedMs = now - s.sentAt;
    return waitedMs >= policy.timeoutMs ? { kind: "hung", waitedMs } : { kind: "wait" };
  }
  return now - s.lastReceivedAt >= policy.intervalMs ? { kind: "send" } : { kind: "wait" };
}

/**
 * What the monitor needs of a session (the pool's `Channel`): its open streams and a count of
 * what was received on it, bumped by whoever reads it (a count, not a time: no clock read per
 * chunk).
 */
export interface HeartbeatTarget {
  readonly active: number;
  readonly received: number;
}

/** The two timer functions the monitor uses: `globalThis`, or a fake in tests. */
export interface HeartbeatTimers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(id: unknown): void;
}

/** Options of {@linkcode HeartbeatMonitor}. */
export interface HeartbeatMonitorOptions<T extends HeartbeatTarget> {
  readonly policy: HeartbeatPolicy;
  /** The clock for durations: monotonic in production. */
  readonly clock: () => number;
  /** @default globalThis */
  readonly timers?: HeartbeatTimers;
  /** Sends a heartbeat on `target`'s session; `answered` is called when any answer arrives. */
  send(target: T, answered: () => void): void;
  /**
   * `target`'s peer did not answer within `timeoutMs` (it is no longer tracked): destroy its
   * session. Called from the monitor's timer, never from an `http2` callback.
   */
  hung(target: T, waitedMs: number): void;
}

/** The monitor's record of one session. */
interface Track {
  /** Open streams were seen at the last tick. */
  watching: boolean;
  /** `received` as of the last tick. */
  seen: number;
  lastReceivedAt: number;
  sentAt: number | null;
  /** Which heartbeat an `answered` callback belongs to. */
  serial: number;
}

/**
 * Runs {@linkcode heartbeatAction} for every tracked session on one interval timer, which runs
 * only while some session has open streams (an idle dialer has no timer).
 */
export class HeartbeatMonitor<T extends HeartbeatTarget> {
  readonly #opts: HeartbeatMonitorOptions<T>;
  readonly #timers: HeartbeatTimers;
  readonly #tracks = new Map<T, Track>();
  #timer: unknown = null;
  #closed = false;

  /** @throws {RangeError} when the policy's durations are not positive */
  constructor(options: HeartbeatMonitorOptions<T>) {
    const p = options.policy;
    if (!(p.intervalMs > 0 && p.timeoutMs > 0 && p.tickMs > 0)) {
      throw new RangeError(
        `Cannot run tunnel heartbeats with interval ${p.intervalMs} ms, timeout ${p.timeoutMs} ` +
          `ms and tick ${p.tickMs} ms: each must be positive`,
      );
    }
    this.#opts = options;
    this.#timers = options.timers ?? globalThis;
  }

  /** Watches a new session (it needs heartbeats only once it carries streams). */
  track(target: T): void {
    if (this.#closed || this.#tracks.has(target)) return;
    this.#tracks.set(target, {
      watching: false,
      seen: target.received,
      lastReceivedAt: 0,
      sentAt: null,
      serial: 0,
    });
  }

  /** Forgets a session (it closed). */
  untrack(target: T): void {
    this.#tracks.delete(target);
  }

  /** A stream started on some session: makes sure the timer runs. */
  wake(): void {
    if (this.#closed || this.#timer !== null) return;
    this.#timer = this.#timers.setInterval(() => this.#tick(), this.#opts.policy.tickMs);
  }

  /** Stops the timer for good; sessions are no longer watched. */
  close(): void {
    this.#closed = true;
    this.#stop();
    this.#tracks.clear();
  }

  /** Sessions tracked (closed ones are forgotten). */
  get size(): number {
    return this.#tracks.size;
  }

  #stop(): void {
    if (this.#timer === null) return;
    this.#timers.clearInterval(this.#timer);
    this.#timer = null;
  }

  #tick(): void {
    const now = this.#opts.clock();
    let watching = false;
    for (const [target, tr] of [...this.#tracks]) {
      if (target.active > 0 && !tr.watching) {
        // Streams (re)began: the quiet time counts from now, not from the last stream's end.
        tr.watching = true;
        tr.lastReceivedAt = now;
        tr.seen = target.received;
      } else if (target.received !== tr.seen) {
        tr.seen = target.received;
        tr.lastReceivedAt = now;
      }
      const action = heartbeatAction(
        { openStreams: target.active, lastReceivedAt: tr.lastReceivedAt, sentAt: tr.sentAt },
        now,
        this.#opts.policy,
      );
      switch (action.kind) {
        case "idle":
          tr.watching = false;
          tr.sentAt = null;
          break;
        case "answered":
          tr.sentAt = null;
          break;
        case "send": {
          tr.sentAt = now;
          const serial = ++tr.serial;
          this.#opts.send(target, () => {
            if (tr.serial !== serial || tr.sentAt === null) return;
            tr.sentAt = null;
            tr.lastReceivedAt = this.#opts.clock();
          });
          break;
        }
        case "hung":
          this.#tracks.delete(target);
          this.#opts.hung(target, action.waitedMs);
          continue;
        case "wait":
          break;
      }
      if (target.active > 0) watching = true;
    }
    if (!watching) this.#stop();
  }
}

/**
 * Sends one heartbeat on `session`: `GET /v1/ping`, no body, answered 204 by a current peer
 * (404-like refusals from an older one count as well: any answer proves its event loop runs).
 * A reset of the stream by the peer is an answer too; the stream is never counted among the
 * session's active streams (`Channel.active`). Never throws: a session already closing ends its
 * streams by itself.
 * @returns the stream, or null when none was opened (the session is closing)
 */
export function requestHeartbeat(
  session: http2.ClientHttp2Session,
  authority: string,
  answered: () => void,
): http2.ClientHttp2Stream | null {
  if (session.closed || session.destroyed) return null;
  let req: http2.ClientHttp2Stream;
  try {
    req = session.request(
      { ":method": "GET", ":path": PING_PATH, ":authority": authority },
      { endStream: true },
    );
  } catch {
    return null;
  }
  req.once("response", answered);
  req.on("error", () => {});
  req.once("close", () => {
    // Reset by the peer while the session lives: it answered, with RST_STREAM.
    if (!session.closed && !session.destroyed) answered();
  });
  req.resume();
  return req;
}
