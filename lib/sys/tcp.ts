// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * TCP sockets on the {@linkcode Reactor}: non-blocking sockets whose system calls are made
 * synchronously through FFI, waiting on epoll only when the kernel says `EAGAIN`.
 *
 * - {@linkcode FdConn} (here): a connection with the `read`/`write`/`closeWrite`/`close` surface
 *   of a `Deno.TcpConn` (what the proxy copies between), plus {@linkcode FdConn.attach}, which
 *   hands its readiness events to a synchronous relay instead (`lib/proxy/relay.ts`), and
 *   {@linkcode FdConn.reset}, a close with RST (the proxy's answer when it cannot serve).
 * - `FdListener` (`tcp_listener.ts`): a bound listener (optionally `SO_REUSEPORT`) that accepts
 *   in batches and hands each connection to a callback.
 * - `connectTcp` and `dialTcp` (`tcp_dial.ts`): a non-blocking connect with a timeout kept by
 *   the reactor.
 *
 * Errors are the `Deno.errors` classes Deno's sockets throw for the same errno.
 * Writes use `send(MSG_NOSIGNAL)`: a peer that went away yields `EPIPE`, never `SIGPIPE`.
 * @module
 */
import type { Libc } from "./libc.ts";
import { errno } from "./libc.ts";
import {
  EPOLLET,
  EPOLLIN,
  EPOLLOUT,
  EPOLLRDHUP,
  type IoSource,
  type Reactor,
  READABLE,
  WRITABLE,
} from "./reactor.ts";
import {
  Errno,
  errnoError,
  formatSockaddr,
  SOCK_CLOEXEC,
  SOCKADDR_MAX,
  sockaddrPort,
} from "./sockaddr.ts";

const SOCK_STREAM = 1;
/** `socket(2)` and `accept4(2)` flag: non-blocking. */
export const SOCK_NONBLOCK = 0o4000;
/** A non-blocking TCP socket, closed on exec. */
export const TCP_SOCKET = SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC;
/** `setsockopt(2)`/`getsockopt(2)` level of the socket options. */
export const SOL_SOCKET = 1;
const SO_LINGER = 13;
const MSG_NOSIGNAL = 0x4000;
const SHUT_WR = 1;
/** Readiness a connection is registered for (edge-triggered). */
const CONN_EVENTS = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;

/** Receives a connection's readiness events in place of its own waiters. */
export interface ConnObserver {
  onConnIo(conn: FdConn, events: number): void;
  /** The connection was closed (by its owner or the relay). */
  onConnClosed(conn: FdConn): void;
}

/**
 * `struct linger { int l_onoff; int l_linger; }` = {1, 0} in native byte order: close(2) then
 * discards unsent data and sends RST instead of FIN (socket(7)).
 */
const LINGER_RESET = new Uint8Array(new Int32Array([1, 0]).buffer);

const closedError = () => new Deno.errors.BadResource("The connection is closed");

/** Fails a pending wait of a closed socket (whoever waited may be gone: never unhandled). */
function rejectClosed(w: PromiseWithResolvers<number> | null): void {
  if (w === null) return;
  w.reject(closedError());
  w.promise.catch(() => {});
}

/**
 * A connected non-blocking TCP socket. Reads and writes try the system call first and wait
 * for the next edge only on `EAGAIN`, so data that is already there costs no event-loop turn.
 */
export class FdConn implements IoSource {
  readonly fd: number;
  readonly reactor: Reactor;
  readonly #c: Libc;
  readonly #token: number;
  #closed = false;
  #readWait: PromiseWithResolvers<number> | null = null;
  #writeWait: PromiseWithResolvers<number> | null = null;
  /** Readiness reported while nobody waited (edges are not repeated; see {@linkcode attach}). */
  #missed = 0;
  #observer: ConnObserver | null = null;
  /** The last length {@linkcode recvNow} was given, and as the BigInt `recv` takes. */
  #recvLen = -1;
  #recvLenBig = 0n;
  /** Told of the first writable readiness of a connect in progress ({@linkcode dialTcp}). */
  #onConnect: ((events: number) => void) | null = null;
  #remote: Deno.NetAddr | null = null;

  /**
   * Takes ownership of the connected socket `fd` and registers it with `reactor`.
   * @throws {Error} from `epoll_ctl` (the fd is closed then)
   */
  constructor(reactor: Reactor, fd: number) {
    this.reactor = reactor;
    this.#c = reactor.libc;
    this.fd = fd;
    try {
      this.#token = reactor.add(fd, CONN_EVENTS, this);
    } catch (err) {
      this.#c.close(fd);
      throw err;
    }
  }

  /** Whether {@linkcode close} has run. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The peer's address (`getpeername(2)`, on first use). */
  get remoteAddr(): Deno.NetAddr {
    if (this.#remote === null) {
      const name = new Uint8Array(SOCKADDR_MAX);
      const len = new Uint32Array([SOCKADDR_MAX]);
      if (this.#closed || this.#c.getpeername(this.fd, name, len) !== 0) {
        return { transport: "tcp", hostname: "", port: 0 };
      }
      const v = new DataView(name.buffer);
      this.#remote = { transport: "tcp", hostname: formatSockaddr(v), port: sockaddrPort(v) };
    }
    return this.#remote;
  }

  /**
   * Hands readiness events to `observer` (a synchronous relay) instead of the waiters of
   * {@linkcode read} and {@linkcode write}, which must not be pending. Returns the readiness
   * reported since the last wait that nobody consumed: with edge-triggered epoll it is not
   * reported again, so the observer acts on it at once.
   */
  attach(observer: ConnObserver): number {
    this.#observer = observer;
    const missed = this.#missed;
    this.#missed = 0;
    return missed;
  }

  /** @internal Readiness from the reactor. */
  onIo(events: number): void {
    if (this.#observer !== null) {
      this.#observer.onConnIo(this, events);
      return;
    }
    if (this.#onConnect !== null && (events & WRITABLE) !== 0) {
      const cb = this.#onConnect;
      this.#onConnect = null;
      this.#missed |= events & READABLE;
      cb(events);
      return;
    }
    if ((events & READABLE) !== 0) {
      const w = this.#readWait;
      if (w === null) this.#missed |= events & READABLE;
      else {
        this.#readWait = null;
        w.resolve(events);
      }
    }
    if ((events & WRITABLE) !== 0) {
      const w = this.#writeWait;
      if (w === null) this.#missed |= events & WRITABLE;
      else {
        this.#writeWait = null;
        w.resolve(events);
      }
    }
  }

  /**
   * One `recv(2)` into `p`: the byte count, 0 at EOF, or -1 for `EAGAIN`.
   * @throws {Deno.errors.ConnectionReset} and the like; `BadResource` once closed
   */
  recvNow(p: Uint8Array): number {
    if (this.#closed) throw closedError();
    // A relay reads into the same buffer every time: its length as a BigInt is made once.
    if (p.byteLength !== this.#recvLen) {
      this.#recvLen = p.byteLength;
      this.#recvLenBig = BigInt(p.byteLength);
    }
    for (;;) {
      const n = this.#c.recv(this.fd, p, this.#recvLenBig, 0);
      if (n >= 0) return n;
      const code = errno(this.#c);
      if (code === Errno.EAGAIN) return -1;
      if (code !== Errno.EINTR) throw errnoError(code, "recv()");
    }
  }

  /**
   * One `send(2)` of the first `len` bytes of `p` (all of it by default; passing a length
   * spares the caller a `subarray` view per write): the byte count taken by the kernel (maybe
   * fewer than asked), or -1 for `EAGAIN`.
   * @throws {Deno.errors.BrokenPipe} and the like; `BadResource` once closed
   * @throws {RangeError} when `len` is outside `0..p.byteLength`
   */
  sendNow(p: Uint8Array, len: number = p.byteLength): number {
    if (this.#closed) throw closedError();
    if (!(len >= 0 && len <= p.byteLength)) {
      throw new RangeError(`Cannot send ${len} bytes from a buffer of ${p.byteLength}`);
    }
    for (;;) {
      const n = this.#c.send(this.fd, p, BigInt(len), MSG_NOSIGNAL);
      if (n >= 0) return n;
      const code = errno(this.#c);
      if (code === Errno.EAGAIN) return -1;
      if (code !== Errno.EINTR) throw errnoError(code, "send()");
    }
  }

  /** Reads into `p`; resolves to the byte count, or null at EOF. */
  async read(p: Uint8Array): Promise<number | null> {
    if (p.byteLength === 0) return 0;
    for (;;) {
      const n = this.recvNow(p);
      if (n > 0) return n;
      if (n === 0) return null;
      await (this.#readWait ??= Promise.withResolvers()).promise;
    }
  }

  /** Writes some of `p` (at least one byte unless `p` is empty); resolves to the count. */
  async write(p: Uint8Array): Promise<number> {
    if (p.byteLength === 0) return 0;
    for (;;) {
      const n = this.sendNow(p);
      if (n >= 0) return n;
      await (this.#writeWait ??= Promise.withResolvers()).promise;
    }
  }

  /**
   * Calls `cb` once, on the first writable readiness (connect completion: `EPOLLERR` or
   * `EPOLLHUP` among the bits when the connect failed), without a promise; never after
   * {@linkcode close}. Readable bits of that event are kept for the next reader.
   */
  onceConnected(cb: (events: number) => void): void {
    const missed = this.#missed & WRITABLE;
    if (missed !== 0) {
      // Reported before anybody waited (edges are not repeated).
      this.#missed &= ~WRITABLE;
      cb(missed | (this.#missed & READABLE));
      return;
    }
    this.#onConnect = cb;
  }

  /**
   * Sends FIN (`shutdown(SHUT_WR)`) now; reading goes on.
   * @throws {Deno.errors.BadResource} once closed, or the error of `shutdown(2)`
   */
  shutdownWrite(): void {
    if (this.#closed) throw closedError();
    if (this.#c.shutdown(this.fd, SHUT_WR) !== 0) {
      const code = errno(this.#c);
      if (code !== Errno.ENOTCONN) throw errnoError(code, "shutdown()");
    }
  }

  /** {@linkcode shutdownWrite} for the `Deno.TcpConn` surface. */
  // deno-lint-ignore require-await
  async closeWrite(): Promise<void> {
    this.shutdownWrite();
  }

  /**
   * Closes the socket with a reset (RST) instead of a FIN: `SO_LINGER` {on, 0 s}, then
   * {@linkcode close}. The peer's reads and writes fail with `ECONNRESET` rather than seeing a
   * clean EOF, and unsent data is dropped. For connections the proxy cannot serve (a service
   * with no endpoint, every dial failed), so a client sees an error, not an empty reply.
   * Idempotent; after {@linkcode close} it does nothing.
   */
  reset(): void {
    if (this.#closed) return;
    // Should it fail (it does not on a TCP socket), close() still ends the connection (FIN).
    this.#c.setsockopt(this.fd, SOL_SOCKET, SO_LINGER, LINGER_RESET, LINGER_RESET.byteLength);
    this.close();
  }

  /** Closes the socket; pending reads and writes reject with `BadResource`. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.reactor.forget(this.#token);
    this.#c.close(this.fd);
    rejectClosed(this.#readWait);
    rejectClosed(this.#writeWait);
    this.#readWait = this.#writeWait = null;
    this.#onConnect = null;
    const o = this.#observer;
    this.#observer = null;
    o?.onConnClosed(this);
  }
}

// The accept retry of FdListener (tcp_listener.ts), which VipListener (lib/proxy/listener.ts),
// the HTTP front and the DNS server's TCP listener follow too.

/** The first wait after an accept failure, ms; it doubles while failures go on. */
export const ACCEPT_RETRY_MS = 100;
/** The longest wait between accepts that fail (out of descriptors), ms. */
export const ACCEPT_RETRY_MAX_MS = 2000;

/**
 * Whether a failed accept concerns only the connection being accepted, so that the loop goes
 * on at once, without a back-off or a warning: Deno's `accept()` reads the peer's address after
 * accept(2), and a connection reset before that (a client that connects and resets at once: a
 * port scanner, a health check that closes with RST) fails with `ENOTCONN` — 2942 of 3000 such
 * connections in a flood on loopback did. Before, each one paused the loop 100 ms (doubling to
 * 2 s) with a warning: a few resets a second kept a port from accepting. `ECONNABORTED` is the
 * same from accept(2) itself.
 */
export function isConnectionAcceptError(err: unknown): boolean {
  return err instanceof Deno.errors.NotConnected ||
    err instanceof Deno.errors.ConnectionAborted ||
    err instanceof Deno.errors.ConnectionReset;
}
