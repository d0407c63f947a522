// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Reaching a backend: the plain TCP {@linkcode TcpDialer}, and {@linkcode dialWithFailover},
 * which picks endpoints, retries on another endpoint and ejects failed ones.
 * @module
 */
import type { Backend } from "../registry/model.ts";
import type { BackendKey, Balancer, SkipFn } from "./balancer.ts";
import { backendKey } from "./balancer.ts";
import type { Dialer, DialTarget, UpstreamConn } from "./dialer.ts";
import type { PassiveHealth } from "./health.ts";
import { type LinkedNode, LinkedSet } from "./linked_set.ts";

/** A dial to one backend failed (refused, unreachable, timed out); `cause` has the reason. */
export class DialError extends Error {
  override name = "DialError";
  constructor(readonly backend: Backend, message: string, options?: ErrorOptions) {
    super(`Cannot connect to "${backendKey(backend)}": ${message}`, options);
  }
}

/** A service port has no ready endpoint to send a connection to. */
export class NoEndpointsError extends Error {
  override name = "NoEndpointsError";
  constructor(readonly service: string, readonly port: number) {
    super(`Cannot proxy to "${service}" port ${port}: no ready endpoints`);
  }
}

/** Every dial attempt of one connection failed; `errors` holds each attempt's error. */
export class AllDialsFailedError extends AggregateError {
  override name = "AllDialsFailedError";
  constructor(readonly service: string, errors: readonly unknown[]) {
    super(errors, `Cannot proxy to "${service}": ${errors.length} dial attempts failed`);
  }
}

/** A pending dial in a {@linkcode Deadlines} list. */
export interface Pending {
  readonly deadline: number;
  readonly ac: AbortController;
  prev: Pending | null;
  next: Pending | null;
  timedOut: boolean;
}

/**
 * Deadlines of pending dials that share one timeout, with one timer for all of them.
 *
 * Deadlines are added in increasing order (same timeout, monotonic clock), so the list is a
 * FIFO and the timer only ever needs the head's deadline. A finished dial unlinks itself in
 * O(1); the timer is cleared when nothing is pending, so no timer outlives the dials. This
 * replaces a `setTimeout`/`clearTimeout` pair per dial, which costs more CPU per short
 * connection than everything else the dialer does. Exported for tests only.
 */
export class Deadlines {
  readonly #timeoutMs: number;
  /** Pending dials, oldest (earliest deadline) first. */
  #head: Pending | null = null;
  #tail: Pending | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** @param timeoutMs time from {@linkcode add} to the abort */
  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  /** Whether the shared timer is armed (tests: it must not outlive the dials). */
  get armed(): boolean {
    return this.#timer !== undefined;
  }

  /** Starts the clock for a dial; `ac` is aborted when its deadline passes first. */
  add(ac: AbortController): Pending {
    const p: Pending = {
      deadline: performance.now() + this.#timeoutMs,
      ac,
      prev: this.#tail,
      next: null,
      timedOut: false,
    };
    if (this.#tail) this.#tail.next = p;
    else this.#head = p;
    this.#tail = p;
    if (this.#timer === undefined) this.#arm(this.#timeoutMs);
    return p;
  }

  /** The dial ended (either way). Idempotent. */
  remove(p: Pending): void {
    if (p.prev) p.prev.next = p.next;
    else if (this.#head === p) this.#head = p.next;
    else return; // already unlinked (timed out)
    if (p.next) p.next.prev = p.prev;
    else this.#tail = p.prev;
    p.prev = p.next = null;
    if (this.#head === null && this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => this.#expire(), Math.max(0, Math.ceil(ms)));
  }

  #expire(): void {
    this.#timer = undefined;
    const now = performance.now();
    let p = this.#head;
    while (p !== null && p.deadline <= now) {
      const next = p.next;
      this.remove(p);
      p.timedOut = true;
      p.ac.abort();
      p = next;
    }
    // The head may have finished since the timer was armed: wait for the next deadline.
    if (this.#head !== null && this.#timer === undefined) this.#arm(this.#head.deadline - now);
  }
}

/**
 * Plain TCP dialer (`Deno.connect`) with a timeout. The connect is cancelled through its
 * `AbortSignal`, so a connection that completes after the deadline is never leaked.
 *
 * Per-dial costs are kept off the short-connection path: the timeouts of all pending dials
 * with the same `timeoutMs` share one timer (see {@linkcode Deadlines}), and all pending dials
 * under one caller `signal` share one abort listener on it (an `addEventListener` and
 * `removeEventListener` per dial cost about as much CPU as the rest of the dial). The instance
 * holds nothing else, and nothing once no dial is pending.
 */
export class TcpDialer implements Dialer {
  readonly #deadlines = new Map<number, Deadlines>();
  readonly #aborts = new AbortFanout();

  /** Connects to `target.backend`, failing with {@linkcode DialError} after `timeoutMs`. */
  async dial(
    target: DialTarget,
    options: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<Deno.TcpConn> {
    const { backend } = target;
    const outer = options.signal;
    if (outer?.aborted) throw new DialError(backend, "aborted", { cause: outer.reason });
    const ac = new AbortController();
    let deadlines = this.#deadlines.get(options.timeoutMs);
    if (!deadlines) {
      this.#deadlines.set(options.timeoutMs, deadlines = new Deadlines(options.timeoutMs));
    }
    const pending = deadlines.add(ac);
    const abort = outer ? this.#aborts.add(outer, () => ac.abort()) : null;
    try {
      return await Deno.connect({
        hostname: backend.ip,
        port: backend.port,
        signal: ac.signal,
      });
    } catch (err) {
      throw dialError(target, options, err, pending.timedOut);
    } finally {
      deadlines.remove(pending);
      if (abort) this.#aborts.delete(outer!, abort);
    }
  }
}

/**
 * The {@linkcode DialError} for a failed dial: "timed out after N ms", "aborted" (the caller's
 * signal), or the cause's message.
 */
export function dialError(
  target: DialTarget,
  options: { timeoutMs: number; signal?: AbortSignal },
  err: unknown,
  timedOut: boolean,
): DialError {
  const why = timedOut
    ? `timed out after ${options.timeoutMs} ms`
    : options.signal?.aborted
    ? "aborted"
    : (err as Error).message;
  return new DialError(target.backend, why, { cause: err });
}

/**
 * Callbacks run when a caller's signal aborts, with one listener per signal for all pending
 * dials under it (an `addEventListener` and `removeEventListener` per dial cost about as much
 * CPU as the rest of the dial). The callbacks are kept in a {@linkcode LinkedSet}, not a `Set`,
 * which churned at the dial rate and kept every dial alive through young-generation GCs.
 */
export class AbortFanout {
  readonly #under = new WeakMap<AbortSignal, LinkedSet<() => void>>();

  /** Runs `fn` when `signal` aborts, until {@linkcode delete} is given the returned handle. */
  add(signal: AbortSignal, fn: () => void): LinkedNode<() => void> {
    let set = this.#under.get(signal);
    if (!set) {
      const all = set = new LinkedSet();
      this.#under.set(signal, set);
      signal.addEventListener("abort", () => {
        for (const f of all) f();
      }, { once: true });
    }
    return set.add(fn);
  }

  /** Forgets the callback of `handle` (its dial ended). Idempotent. */
  delete(signal: AbortSignal, handle: LinkedNode<() => void>): void {
    this.#under.get(signal)?.remove(handle);
  }
}

/** The shared stateless TCP dialer. */
export const tcpDialer: TcpDialer = new TcpDialer();

/** Options of {@linkcode dialWithFailover}. */
export interface FailoverOptions {
  /** Dial attempts in all (config `dialAttempts`), each to another endpoint while one is left. */
  readonly attempts: number;
  /** Dials one chosen backend (routes local/remote, applies the timeout). */
  readonly dial: (backend: Backend) => Promise<UpstreamConn>;
  readonly health: PassiveHealth;
  readonly now: () => number;
  /** Called after each failed attempt (metrics, debug log). */
  readonly onFailure?: (backend: Backend, err: unknown) => void;
  /** Stops retrying (proxy closing, connection drained). */
  readonly signal?: AbortSignal;
}

/** The outcome of a successful {@linkcode dialWithFailover}. */
export interface Dialed {
  readonly conn: UpstreamConn;
  readonly backend: Backend;
}

/**
 * Picks a backend with `balancer` and dials it; on failure ejects it (passive health) and
 * tries another, up to `attempts` in all. Ejected backends are avoided while a healthy one
 * is left; when all are ejected they are tried anyway (better than refusing). A backend is
 * not tried twice until every other one has been tried in this connection.
 * @throws {NoEndpointsError} when the balancer has no backends
 * @throws {AllDialsFailedError} when every attempt failed
 */
export async function dialWithFailover(
  balancer: Balancer,
  service: string,
  port: number,
  clientIp: string,
  options: FailoverOptions,
): Promise<Dialed> {
  if (balancer.size === 0) throw new NoEndpointsError(service, port);
  const { health, now } = options;
  const errors: unknown[] = [];
  // Closures are only built on the slow paths (something ejected, a retry), not per connection.
  let tried: Set<BackendKey> | null = null;
  let healthy: SkipFn | null = null;
  let untriedHealthy: SkipFn | null = null;
  let untried: SkipFn | null = null;
  for (let attempt = 0; attempt < options.attempts; attempt++) {
    if (options.signal?.aborted) break;
    const t = now();
    let backend: Backend | null;
    if (tried === null) {
      backend = health.size === 0 ? balancer.pick(clientIp, t) : balancer.pick(
        clientIp,
        t,
        healthy ??= (k) => health.isEjected(k, now()),
      ) ?? balancer.pick(clientIp, t);
    } else {
      if (tried.size >= balancer.size) tried.clear(); // every one tried: start another round
      const seen = tried;
      backend = balancer.pick(
        clientIp,
        t,
        untriedHealthy ??= (k) => seen.has(k) || health.isEjected(k, now()),
      ) ?? balancer.pick(clientIp, t, untried ??= (k) => seen.has(k));
    }
    if (backend === null) break;
    try {
      const conn = await options.dial(backend);
      balancer.commit(clientIp, backend, now());
      return { conn, backend };
    } catch (err) {
      errors.push(err);
      const key = backendKey(backend);
      health.eject(key, now());
      (tried ??= new Set()).add(key);
      options.onFailure?.(backend, err);
    }
  }
  throw new AllDialsFailedError(service, errors);
}
