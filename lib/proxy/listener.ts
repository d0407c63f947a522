// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The accept loop of one `VIP:port` listener, and the pure plan of which listeners to
 * start and stop for a snapshot.
 * @module
 */
import type { Logger } from "../log/mod.ts";
import type { ServiceKey, ServicePort } from "../registry/model.ts";
import { ACCEPT_RETRY_MAX_MS, ACCEPT_RETRY_MS, isConnectionAcceptError } from "../sys/tcp.ts";
import type { AcceptLimit } from "../sys/tcp_listener.ts";

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
        if (isConnectionAcceptError(err)) continue; // that client is gone: take the next
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
