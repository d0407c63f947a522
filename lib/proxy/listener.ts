// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The accept loop of one `VIP:port` listener, and the pure plan of which listeners to
 * start and stop for a snapshot.
 * @module
 */
import type { Logger } from "../log/mod.ts";
import type { ServiceKey, ServicePort } from "../registry/model.ts";

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
  #closed = false;

  /**
   * Binds `hostname:port` (accepting starts with {@linkcode serve}); with `reusePort`, other
   * proxy threads may bind it too (`SO_REUSEPORT`, Linux spreads connections over them).
   * @throws {Deno.errors.AddrNotAvailable} (VIP not on the device yet), `AddrInUse`, …
   */
  constructor(hostname: string, port: number, log: Logger, reusePort = false) {
    this.#listener = Deno.listen({ hostname, port, transport: "tcp", reusePort });
    this.#log = log;
  }

  /** The bound address. */
  get addr(): Deno.NetAddr {
    return this.#listener.addr;
  }

  /** Accepts until {@linkcode close}; resolves when the loop has ended. Call once. */
  async serve(onConn: (conn: Deno.TcpConn) => void): Promise<void> {
    while (!this.#closed) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (err) {
        if (this.#closed) return;
        if (err instanceof Deno.errors.BadResource) return;
        // EMFILE and friends: log and back off briefly instead of spinning.
        this.#log.error("Cannot accept connection", { addr: this.#addrText(), error: err });
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
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
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
  }
}
