// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Load-balancing state of one service port: round-robin, random, and ClientIP session
 * affinity on top of either. Pure apart from the injected clock value and random source;
 * no sockets here.
 * @module
 */
import { formatHostPort } from "../netaddr/mod.ts";
import type { Backend, LbStrategy, SessionAffinity } from "../registry/model.ts";

/**
 * Identity of a backend across endpoint updates and for passive health, and how messages name
 * it: `"<ip>:<port>"`, an IPv6 address in brackets (`"[2001:db8::2]:8080"`, RFC 3986 §3.2.2).
 */
export type BackendKey = string;

/** The {@linkcode BackendKey} of `b`. */
export function backendKey(b: Backend): BackendKey {
  return formatHostPort(b.ip, b.port);
}

/** Options of {@linkcode Balancer}. */
export interface BalancerOptions {
  /** `RoundRobin` or `Random` (global `lbStrategy`, or the service's annotation). */
  readonly strategy: LbStrategy;
  /** `spec.sessionAffinity`; `ClientIP` pins a client to one backend for `timeoutSeconds`. */
  readonly affinity: SessionAffinity;
  /** Uniform random number in [0, 1), for `Random`. @default Math.random */
  readonly random?: () => number;
  /**
   * Round-robin position shared with the balancers of the same service port on other proxy
   * threads (a cell of a `SharedArrayBuffer`), so consecutive connections alternate however
   * the kernel spreads them over the threads. @default a position of this balancer's own
   */
  readonly cursor?: SharedCursor;
}

/** One round-robin position in shared memory: `cells[index]`, updated with `Atomics`. */
export interface SharedCursor {
  readonly cells: Int32Array;
  readonly index: number;
}

/** Says whether a backend must not be picked for this attempt (already tried, ejected). */
export type SkipFn = (key: BackendKey) => boolean;

interface Sticky {
  key: BackendKey;
  lastUsed: number;
}

/**
 * Picks backends for one service port, as kube-proxy's userspace `LoadBalancerRR` did per
 * service port, with session affinity by client IP.
 *
 * Round-robin order survives endpoint updates: the cursor continues after the backend picked
 * last when it is still there, so adding or removing one endpoint does not restart the cycle.
 * Affinity entries expire `timeoutSeconds` after their last use (Kubernetes
 * `sessionAffinityConfig.clientIP.timeoutSeconds`), and a client whose backend is gone or
 * skipped gets a fresh pick.
 */
export class Balancer {
  readonly strategy: LbStrategy;
  readonly affinity: SessionAffinity;
  readonly #random: () => number;
  readonly #timeoutMs: number;
  #backends: readonly Backend[] = [];
  #keys: BackendKey[] = [];
  #index = new Map<BackendKey, number>();
  #cursor = 0;
  #last: BackendKey | null = null;
  readonly #sticky = new Map<string, Sticky>();
  #nextSweep = 0;
  readonly #shared: SharedCursor | undefined;

  constructor(options: BalancerOptions) {
    this.strategy = options.strategy;
    this.affinity = options.affinity;
    this.#random = options.random ?? Math.random;
    this.#shared = options.cursor;
    this.#timeoutMs = options.affinity.type === "ClientIP"
      ? options.affinity.timeoutSeconds * 1000
      : 0;
  }

  /** Whether picks depend on the client IP (so callers need not compute it otherwise). */
  get sticky(): boolean {
    return this.affinity.type === "ClientIP";
  }

  /** Number of backends. */
  get size(): number {
    return this.#backends.length;
  }

  /** The current backends, in pick order. */
  backends(): readonly Backend[] {
    return this.#backends;
  }

  /** The shared round-robin position, if any. */
  get cursor(): SharedCursor | undefined {
    return this.#shared;
  }

  /** Whether this balancer was built for the same strategy, affinity and shared cursor. */
  matches(strategy: LbStrategy, affinity: SessionAffinity, cursor?: SharedCursor): boolean {
    return this.strategy === strategy && this.affinity.type === affinity.type &&
      this.#shared?.cells === cursor?.cells && this.#shared?.index === cursor?.index &&
      (affinity.type !== "ClientIP" ||
        affinity.timeoutSeconds * 1000 === this.#timeoutMs);
  }

  /** Replaces the backends (endpoint update), keeping the round-robin position if possible. */
  setBackends(backends: readonly Backend[]): void {
    const keys = backends.map(backendKey);
    if (keys.length === this.#keys.length && keys.every((k, i) => k === this.#keys[i])) {
      this.#backends = backends;
      return;
    }
    this.#backends = backends;
    this.#keys = keys;
    this.#index = new Map(keys.map((k, i) => [k, i]));
    const at = this.#last === null ? undefined : this.#index.get(this.#last);
    this.#cursor = keys.length === 0
      ? 0
      : at !== undefined
      ? (at + 1) % keys.length
      : this.#cursor % keys.length;
  }

  /**
   * Picks a backend for one dial attempt, or null when every backend is skipped (or there
   * are none). With ClientIP affinity a live pin for `clientIp` wins when not skipped.
   */
  pick(clientIp: string, now: number, skip?: SkipFn): Backend | null {
    const n = this.#keys.length;
    if (n === 0) return null;
    if (this.#timeoutMs > 0) {
      const pinned = this.#pinned(clientIp, now);
      if (pinned !== null && !skip?.(this.#keys[pinned]!)) return this.#backends[pinned]!;
    }
    const i = this.strategy === "Random" ? this.#pickRandom(skip) : this.#pickRoundRobin(skip);
    return i < 0 ? null : this.#backends[i]!;
  }

  /**
   * Records that `clientIp` was connected to `backend` (after a successful dial), pinning
   * or refreshing its affinity. A no-op without ClientIP affinity.
   */
  commit(clientIp: string, backend: Backend, now: number): void {
    if (this.#timeoutMs <= 0) return;
    const key = backendKey(backend);
    const s = this.#sticky.get(clientIp);
    if (s) {
      s.key = key;
      s.lastUsed = now;
    } else {
      this.#sticky.set(clientIp, { key, lastUsed: now });
    }
  }

  /** Number of live affinity pins, for status and tests. */
  pins(now: number): number {
    this.#sweep(now, true);
    return this.#sticky.size;
  }

  #pinned(clientIp: string, now: number): number | null {
    this.#sweep(now, false);
    const s = this.#sticky.get(clientIp);
    if (!s) return null;
    if (now - s.lastUsed > this.#timeoutMs) {
      this.#sticky.delete(clientIp);
      return null;
    }
    return this.#index.get(s.key) ?? null;
  }

  /** Drops expired pins, at most once per timeout (or minute), so the map stays bounded. */
  #sweep(now: number, force: boolean): void {
    if (!force && now < this.#nextSweep) return;
    this.#nextSweep = now + Math.min(this.#timeoutMs, 60_000);
    for (const [ip, s] of this.#sticky) {
      if (now - s.lastUsed > this.#timeoutMs) this.#sticky.delete(ip);
    }
  }

  #pickRoundRobin(skip: SkipFn | undefined): number {
    const shared = this.#shared;
    if (shared !== undefined) return this.#pickShared(shared, skip);
    const i = this.#scan(this.#cursor, skip);
    if (i >= 0) {
      this.#cursor = (i + 1) % this.#keys.length;
      this.#last = this.#keys[i]!;
    }
    return i;
  }

  /** The first backend from position `from` on that is not skipped, or -1. */
  #scan(from: number, skip: SkipFn | undefined): number {
    const n = this.#keys.length;
    for (let step = 0; step < n; step++) {
      const i = (from + step) % n;
      if (!skip?.(this.#keys[i]!)) return i;
    }
    return -1;
  }

  /**
   * Round robin on the shared position: read it, pick, and move it past the pick with a
   * compare-and-swap, so two threads picking at once do not take the same turn (after a few
   * lost races the pick is taken anyway: a repeated backend, never a stall).
   */
  #pickShared(shared: SharedCursor, skip: SkipFn | undefined): number {
    const n = this.#keys.length;
    for (let attempt = 0;; attempt++) {
      const at = Atomics.load(shared.cells, shared.index);
      const i = this.#scan(((at % n) + n) % n, skip);
      if (i < 0) return -1;
      const next = (i + 1) % n;
      if (Atomics.compareExchange(shared.cells, shared.index, at, next) === at || attempt >= 3) {
        return i;
      }
    }
  }

  #pickRandom(skip: SkipFn | undefined): number {
    const n = this.#keys.length;
    if (!skip) return Math.min(n - 1, Math.floor(this.#random() * n));
    let eligible = 0;
    for (const k of this.#keys) if (!skip(k)) eligible++;
    if (eligible === 0) return -1;
    let r = Math.min(eligible - 1, Math.floor(this.#random() * eligible));
    for (let i = 0; i < n; i++) {
      if (skip(this.#keys[i]!)) continue;
      if (r-- === 0) return i;
    }
    return -1;
  }
}
