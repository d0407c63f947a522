// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The accept loop of one `VIP:port` listener, and the pure plan of which listeners to
 * start and stop for a snapshot.
 * @module
 */
import type { Logger } from "../log/mod.ts";
import type { ServiceKey, ServicePort, Snapshot } from "../registry/model.ts";
import { ACCEPT_RETRY_MAX_MS, ACCEPT_RETRY_MS, type AcceptLimit } from "../sys/tcp.ts";

/** Identity of a listener: `"<vip>:<port>"`. */
export type ListenerKey = string;

/** The {@linkcode ListenerKey} of `vip:port`. */
export function listenerKey(vip: string, port: number): ListenerKey {
  return `${vip}:${port}`;
}

/** One listener the snapshot asks for: a TCP service port on the service's VIP. */
export interface ListenerSpec {
  readonly key: ListenerKey;
  readonly vip: string;
  readonly port: number;
  readonly service: ServiceKey;
  readonly servicePort: ServicePort;
}

/** What {@linkcode planListeners} decided. */
export interface ListenerPlan {
  /** Wanted and not running (new, or a bind that failed before and is retried). */
  readonly start: readonly ListenerSpec[];
  /** Running and no longer wanted. */
  readonly stop: readonly ListenerKey[];
}

/**
 * Desired vs running listeners. Only the difference is touched, so other services'
 * listeners (and their connections) are never disturbed by an update.
 */
export function planListeners(
  desired: ReadonlyMap<ListenerKey, ListenerSpec>,
  running: ReadonlySet<ListenerKey>,
): ListenerPlan {
  const start: ListenerSpec[] = [];
  for (const [key, spec] of desired) if (!running.has(key)) start.push(spec);
  const stop: ListenerKey[] = [];
  for (const key of running) if (!desired.has(key)) stop.push(key);
  return { start, stop };
}

/** Listeners a snapshot asks for beyond the budget, per service (see {@linkcode listenerBudget}). */
export interface ListenerBudget {
  /** The listeners that may be opened. */
  readonly allowed: ReadonlySet<ListenerKey>;
  /** Services that get fewer listeners than they have TCP ports: wanted and refused. */
  readonly short: ReadonlyMap<ServiceKey, { readonly ports: number; readonly refused: number }>;
}

/**
 * Which of the `VIP:port` listeners of `snapshot` fit in `max` (the listener budget of one
 * proxy thread, from the open-files limit), or null when all do (the usual case). Services
 * with fewer TCP ports come first (snapshot order among equals), so one service with thousands
 * of ports cannot leave the others without listeners, and the same snapshot always gets the
 * same listeners on every thread and after a restart. Pure; every service with a VIP counts,
 * also those a worker thread does not serve (session affinity), so the threads agree.
 */
export function listenerBudget(snapshot: Snapshot, max: number): ListenerBudget | null {
  const wanted: { service: ServiceKey; keys: ListenerKey[] }[] = [];
  let total = 0;
  for (const [service, entry] of snapshot.services) {
    if (entry.vip === null) continue;
    const keys: ListenerKey[] = [];
    for (const p of entry.service.ports) {
      if (p.protocol === "TCP") keys.push(listenerKey(entry.vip, p.port));
    }
    total += keys.length;
    wanted.push({ service, keys });
  }
  if (total <= max) return null;
  // Array.prototype.sort is stable: snapshot order among services with as many ports.
  wanted.sort((a, b) => a.keys.length - b.keys.length);
  const allowed = new Set<ListenerKey>();
  const short = new Map<ServiceKey, { ports: number; refused: number }>();
  for (const { service, keys } of wanted) {
    let refused = 0;
    for (const key of keys) {
      if (allowed.has(key)) continue;
      if (allowed.size < max) allowed.add(key);
      else refused++;
    }
    if (refused > 0) short.set(service, { ports: keys.length, refused });
  }
  return { allowed, short };
}

/** How many service names {@linkcode budgetSummary} lists in its `first` field. */
export const BUDGET_SUMMARY_NAMES = 5;

/** Where an operator sees every unbound listener (named in the budget summary line). */
export const UNBOUND_LISTENERS_HINT = "edgemesh ctl status -o json (unboundListeners)";

/** The fields of the one log line about services short of listeners (see {@linkcode budgetSummary}). */
export interface BudgetSummary {
  /** Services that get fewer listeners than they have TCP ports. */
  readonly services: number;
  /** Listeners not opened, over all of them. */
  readonly listeners: number;
  /** The first {@linkcode BUDGET_SUMMARY_NAMES} of them, in budget order, comma-separated. */
  readonly first: string;
}

/**
 * The summary of `short` (from {@linkcode listenerBudget}) to log, or null when it is the same
 * as `previous` (nothing to say). An empty `short` after a non-empty `previous` gives a summary
 * of zero services (every listener fits again). Pure: one line per change instead of one per
 * service, which with thousands of services flooded the log at every start.
 */
export function budgetSummary(
  short: ReadonlyMap<ServiceKey, string>,
  previous: ReadonlyMap<ServiceKey, string>,
): BudgetSummary | null {
  if (sameShares(short, previous)) return null;
  let listeners = 0;
  const names: ServiceKey[] = [];
  for (const [service, share] of short) {
    listeners += Number(share.slice(0, share.indexOf("/")));
    if (names.length < BUDGET_SUMMARY_NAMES) names.push(service);
  }
  const more = short.size > names.length ? `, … (${short.size - names.length} more)` : "";
  return { services: short.size, listeners, first: names.join(", ") + more };
}

function sameShares(
  a: ReadonlyMap<ServiceKey, string>,
  b: ReadonlyMap<ServiceKey, string>,
): boolean {
  if (a.size !== b.size) return false;
  for (const [service, share] of a) if (b.get(service) !== share) return false;
  return true;
}

/**
 * A bound TCP listener on `VIP:port` handing each accepted connection to a callback.
 * `Deno.listen` takes no signal, so {@linkcode close} closes the resource and the loop treats
 * the resulting error as the normal end of {@linkcode serve}.
 */
export class VipListener {
  readonly #listener: Deno.TcpListener;
  readonly #log: Logger;
  readonly #limit: AcceptLimit | undefined;
  readonly #onError: (addr: string, error: unknown) => void;
  /** Ends a wait for the limit's room (on close). */
  #unpause: (() => void) | null = null;
  #closed = false;

  /**
   * Binds `hostname:port` (accepting starts with {@linkcode serve}); with `reusePort`, other
   * proxy threads may bind it too (`SO_REUSEPORT`, Linux spreads connections over them).
   * While `limit` is full nothing is accepted; accept failures go to `onError`.
   * @throws {Deno.errors.AddrNotAvailable} (VIP not on the device yet), `AddrInUse`, …
   */
  constructor(
    hostname: string,
    port: number,
    log: Logger,
    reusePort = false,
    limit?: AcceptLimit,
    onError?: (addr: string, error: unknown) => void,
  ) {
    this.#listener = Deno.listen({ hostname, port, transport: "tcp", reusePort });
    this.#log = log;
    this.#limit = limit;
    this.#onError = onError ??
      ((addr, error) => this.#log.warn("Cannot accept connection, backing off", { addr, error }));
  }

  /** The bound address. */
  get addr(): Deno.NetAddr {
    return this.#listener.addr;
  }

  /** Accepts until {@linkcode close}; resolves when the loop has ended. Call once. */
  async serve(onConn: (conn: Deno.TcpConn) => void): Promise<void> {
    let retryMs = ACCEPT_RETRY_MS;
    while (!this.#closed) {
      const limit = this.#limit;
      if (limit?.full) {
        await new Promise<void>((resume) => {
          this.#unpause = resume;
          limit.pause(resume);
        });
        this.#unpause = null;
        continue;
      }
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (err) {
        if (this.#closed) return;
        if (err instanceof Deno.errors.BadResource) return;
        // EMFILE and friends: back off (doubling) instead of spinning.
        this.#onError(this.#addrText(), err);
        await new Promise((r) => setTimeout(r, retryMs));
        retryMs = Math.min(ACCEPT_RETRY_MAX_MS, retryMs * 2);
        continue;
      }
      retryMs = ACCEPT_RETRY_MS;
      onConn(conn);
    }
  }

  #addrText(): string {
    return listenerKey(this.#listener.addr.hostname, this.#listener.addr.port);
  }

  /** Stops accepting; already accepted connections are not affected. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unpause?.();
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
  }
}
