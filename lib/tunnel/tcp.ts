// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * A plain TCP dial of a backend with a timeout, the local dialer of the
 * {@linkcode TunnelServer} (the agent injects no other; tests and benchmarks may); its
 * connections can be reset (RST), which a `Deno.TcpConn` alone cannot.
 * @module
 */
import type { UpstreamConn } from "../proxy/dialer.ts";
import type { Backend } from "../registry/model.ts";
import { TcpConnResets } from "../sys/tcp_reset.ts";

/** How the tunnel server connects to a local endpoint. */
export type BackendDial = (
  backend: Backend,
  options: { readonly timeoutMs: number; readonly signal?: AbortSignal },
) => Promise<UpstreamConn>;

/**
 * A dial that connects to `backend.ip:backend.port` over TCP, failing after `timeoutMs`, with
 * `TCP_NODELAY` on (RFC 9293 §3.7.4 lets an application turn Nagle's algorithm off), and
 * returns a connection whose `reset()` closes it with RST (`resets`, one per server: a cut
 * stream's endpoint sees an error, not a clean end).
 *
 * Why `TCP_NODELAY`: `Deno.connect` (Deno 2.9.6) leaves Nagle's algorithm on (`strace`: no
 * `setsockopt(TCP_NODELAY)` on the socket; `getsockopt` reads 0). The server writes each
 * stream's bytes to the endpoint as its frames arrive, so a second small write (the rest of a
 * request split across frames) would wait for the endpoint's delayed ACK of the first (up to
 * 40 ms on Linux).
 * @throws {Deno.errors.TimedOut} on timeout, the connect error otherwise (from the dial)
 */
export function tcpBackendDial(resets: TcpConnResets = new TcpConnResets()): BackendDial {
  return async (backend, { timeoutMs, signal }) => {
    signal?.throwIfAborted();
    const connecting = Deno.connect({
      hostname: backend.ip,
      port: backend.port,
      transport: "tcp",
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onAbort: (() => void) | undefined;
    const stop = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Deno.errors.TimedOut(`Connection timed out after ${timeoutMs} ms`)),
        timeoutMs,
      );
      onAbort = () => reject(signal?.reason);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
    try {
      const conn = await Promise.race([connecting, stop]);
      conn.setNoDelay(true); // should it throw, the catch below closes the connection
      return new ResettableTcpConn(conn, resets);
    } catch (err) {
      // A connect that completes after we gave up (or whose option failed) must not leak its
      // socket.
      connecting.then((c) => c.close(), () => {});
      throw err;
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener("abort", onAbort);
    }
  };
}

/**
 * A `Deno.TcpConn` with `reset()` ({@linkcode TcpConnResets}); each call passes straight on. A
 * socket whose read or write failed (the endpoint reset it, `EPIPE`, a timeout) needs no reset
 * from us: `reset()` then only closes it, without looking for its descriptor.
 */
export class ResettableTcpConn implements UpstreamConn {
  readonly conn: Deno.TcpConn;
  readonly #resets: TcpConnResets;
  #closed = false;
  #failed = false;
  readonly #onError = (err: unknown): never => {
    this.#failed = true;
    throw err;
  };

  constructor(conn: Deno.TcpConn, resets: TcpConnResets) {
    this.conn = conn;
    this.#resets = resets;
  }

  read(p: Uint8Array): Promise<number | null> {
    return this.conn.read(p).catch(this.#onError);
  }

  write(p: Uint8Array): Promise<number> {
    return this.conn.write(p).catch(this.#onError);
  }

  closeWrite(): Promise<void> {
    return this.conn.closeWrite();
  }

  /** Closes with FIN; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.conn.close();
  }

  /**
   * Closes with RST at the end of this task (just closes a socket that failed already);
   * idempotent, nothing after {@linkcode close}.
   */
  reset(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#failed) this.conn.close();
    else this.#resets.reset(this.conn);
  }
}
