// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * A listening TCP socket on the {@linkcode Reactor} ({@linkcode FdListener}): bound (optionally
 * `SO_REUSEPORT`), it accepts in batches and hands each connection ({@linkcode FdConn}) to a
 * callback, obeys an {@linkcode AcceptLimit} (the proxy's connection cap) and backs off after an
 * accept failure.
 * @module
 */
import type { Libc } from "./libc.ts";
import { errno } from "./libc.ts";
import { EPOLLET, EPOLLIN, type IoSource, type Reactor } from "./reactor.ts";
import { bindSocket, Errno, errnoError, SOCK_CLOEXEC, sysError } from "./sockaddr.ts";
import {
  ACCEPT_RETRY_MAX_MS,
  ACCEPT_RETRY_MS,
  FdConn,
  SOCK_NONBLOCK,
  SOL_SOCKET,
  TCP_SOCKET,
} from "./tcp.ts";

const SO_REUSEADDR = 2;
const SO_REUSEPORT = 15;
const LISTEN_BACKLOG = 4096;
const ONE = new Int32Array([1]);

/** A cap a listener obeys: while `full` it does not accept, and waits for `pause`'s call. */
export interface AcceptLimit {
  readonly full: boolean;
  /** Calls `resume` once, later, when there is room again. */
  pause(resume: () => void): void;
}

const NO_LIMIT: AcceptLimit = { full: false, pause: (resume) => queueMicrotask(resume) };

/** A listening socket on the {@linkcode Reactor}. */
export class FdListener implements IoSource {
  readonly addr: Deno.NetAddr;
  readonly #reactor: Reactor;
  readonly #c: Libc;
  readonly #fd: number;
  #token = -1;
  #onConn: ((conn: FdConn) => void) | null = null;
  #onError: (err: Error) => void = () => {};
  #done: PromiseWithResolvers<void> | null = null;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #retryMs = ACCEPT_RETRY_MS;
  #limit: AcceptLimit = NO_LIMIT;
  /** Waiting for the limit's room (accepting stopped until it calls back). */
  #paused = false;
  #closed = false;

  /**
   * Binds and listens on `hostname:port` (port 0: any free port); with `reusePort`, other
   * sockets may bind the same address (`SO_REUSEPORT`: the kernel spreads connections).
   * @throws {Deno.errors.AddrNotAvailable} (the address is not on any device), `AddrInUse`, …
   */
  constructor(reactor: Reactor, hostname: string, port: number, reusePort = false) {
    this.#reactor = reactor;
    const c = this.#c = reactor.libc;
    const one = new Uint8Array(ONE.buffer);
    const bound = bindSocket(c, TCP_SOCKET, hostname, port, "listen on", (fd) => {
      c.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, one, 4);
      if (reusePort) c.setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, one, 4);
    });
    if (c.listen(bound.fd, LISTEN_BACKLOG) !== 0) {
      const err = sysError(c, "listen()");
      c.close(bound.fd);
      throw err;
    }
    this.addr = { transport: "tcp", hostname, port: bound.port };
    this.#fd = bound.fd;
  }

  /**
   * Accepts until {@linkcode close}, giving each connection to `onConn`; resolves when
   * closed. Accept failures (e.g. out of file descriptors) go to `onError`, and accepting
   * resumes {@linkcode ACCEPT_RETRY_MS} later, doubling while failures go on (up to
   * {@linkcode ACCEPT_RETRY_MAX_MS}), instead of spinning. While `limit` is full nothing is
   * accepted (connections wait in the kernel's backlog) until it calls back. Call once.
   */
  serve(
    onConn: (conn: FdConn) => void,
    onError: (err: Error) => void,
    limit: AcceptLimit = NO_LIMIT,
  ): Promise<void> {
    if (this.#done) throw new TypeError("FdListener.serve() called twice");
    this.#done = Promise.withResolvers();
    if (this.#closed) {
      this.#done.resolve();
      return this.#done.promise;
    }
    this.#onConn = onConn;
    this.#onError = onError;
    this.#limit = limit;
    // Never calls onConn from here: a connection that came in since listen() is reported by
    // the reactor's next turn (registering a ready socket queues its event at once), after
    // the caller has finished setting up.
    this.#token = this.#reactor.add(this.#fd, EPOLLIN | EPOLLET, this);
    return this.#done.promise;
  }

  /** @internal Readiness from the reactor. */
  onIo(): void {
    if (this.#retry === undefined && !this.#paused) this.#acceptAll();
  }

  readonly #resume = () => {
    this.#paused = false;
    if (this.#retry === undefined) this.#acceptAll();
  };

  #acceptAll(): void {
    const c = this.#c;
    const limit = this.#limit;
    while (!this.#closed) {
      if (limit.full) {
        // Edge-triggered: what waits in the backlog is not reported again, so resume() looks.
        this.#paused = true;
        limit.pause(this.#resume);
        return;
      }
      const fd = c.accept4(this.#fd, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        const code = errno(c);
        if (code === Errno.EAGAIN) {
          this.#retryMs = ACCEPT_RETRY_MS;
          return;
        }
        if (code === Errno.EINTR || code === Errno.ECONNABORTED) continue;
        this.#onError(errnoError(code, "accept4()"));
        this.#retry = setTimeout(() => {
          this.#retry = undefined;
          if (!this.#paused) this.#acceptAll();
        }, this.#retryMs);
        this.#retryMs = Math.min(ACCEPT_RETRY_MAX_MS, this.#retryMs * 2);
        return;
      }
      let conn: FdConn;
      try {
        conn = new FdConn(this.#reactor, fd);
      } catch (err) {
        this.#onError(err as Error);
        continue;
      }
      this.#onConn!(conn);
    }
  }

  /** Stops accepting and closes the socket; open connections are not affected. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#retry);
    this.#retry = undefined;
    if (this.#token >= 0) this.#reactor.forget(this.#token);
    this.#c.close(this.#fd);
    this.#done?.resolve();
  }
}
