// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * TCP sockets on the {@linkcode Reactor}: non-blocking sockets whose system calls are made
 * synchronously through FFI, waiting on epoll only when the kernel says `EAGAIN`.
 *
 * - {@linkcode FdConn}: a connection with the `read`/`write`/`closeWrite`/`close` surface of a
 *   `Deno.TcpConn` (what the proxy copies between), plus {@linkcode FdConn.attach}, which
 *   hands its readiness events to a synchronous relay instead (`lib/proxy/relay.ts`), and
 *   {@linkcode FdConn.reset}, a close with RST (the proxy's answer when it cannot serve).
 * - {@linkcode FdListener}: a bound listener (optionally `SO_REUSEPORT`) that accepts in
 *   batches and hands each connection to a callback.
 * - {@linkcode connectTcp}: a non-blocking connect with a timeout kept by the reactor.
 *
 * Errors are the `Deno.errors` classes Deno's sockets throw for the same errno.
 * Writes use `send(MSG_NOSIGNAL)`: a peer that went away yields `EPIPE`, never `SIGPIPE`.
 * @module
 */
import type { Libc } from "./libc.ts";
import { errno } from "./libc.ts";
import {
  EPOLLERR,
  EPOLLET,
  EPOLLHUP,
  EPOLLIN,
  EPOLLOUT,
  EPOLLRDHUP,
  type IoSource,
  type Reactor,
  READABLE,
  WRITABLE,
} from "./reactor.ts";
import {
  AF_INET,
  AF_INET6,
  bindSocket,
  Errno,
  errnoError,
  formatSockaddr,
  SOCK_CLOEXEC,
  SOCKADDR_MAX,
  type SockaddrCache,
  sockaddrPort,
  sysError,
  writeSockaddr,
} from "./sockaddr.ts";

const SOCK_STREAM = 1;
const SOCK_NONBLOCK = 0o4000;
/** A non-blocking TCP socket, closed on exec. */
const TCP_SOCKET = SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC;
const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;
const SO_ERROR = 4;
const SO_LINGER = 13;
const SO_REUSEPORT = 15;
const MSG_NOSIGNAL = 0x4000;
const SHUT_WR = 1;
const LISTEN_BACKLOG = 4096;
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

const ONE = new Int32Array([1]);

/** The first wait after an accept failure, ms; it doubles while failures go on. */
export const ACCEPT_RETRY_MS = 100;
/** The longest wait between accepts that fail (out of descriptors), ms. */
export const ACCEPT_RETRY_MAX_MS = 2000;

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

/**
 * The address of the dial in progress (used synchronously only). One buffer outside V8's heap:
 * a fresh 28-byte typed array lives on the heap, and FFI then copies it out on every call.
 */
const DIAL_NAME = new Uint8Array(new ArrayBuffer(SOCKADDR_MAX));

/** A dial's cancel function once it has settled. */
const settledDial = () => {};

/**
 * Connects to `ip:port` without blocking; resolves once connected, rejects with the
 * `Deno.errors` class of the failure, with `TimedOut` after `timeoutMs`, or with
 * `Interrupted` when `cancel` is called first (a cancelled or failed socket is closed).
 * @throws {TypeError} when `ip` is not an IP address
 */
export function connectTcp(
  reactor: Reactor,
  ip: string,
  port: number,
  timeoutMs: number,
): { conn: Promise<FdConn>; cancel: () => void } {
  const { promise, resolve, reject } = Promise.withResolvers<FdConn>();
  const cancel = dialTcp(reactor, ip, port, timeoutMs, null, (err, conn) => {
    if (err === null) resolve(conn!);
    else reject(err);
  });
  return { conn: promise, cancel };
}

/**
 * {@linkcode connectTcp} with a callback: `done` runs once, with the connected socket or with
 * the error (maybe before `dialTcp` returns, for a failure found at once). Returns the cancel
 * function. The proxy dials this way so that a connection costs one promise, not three
 * (the connect's, the readiness wait's and the dialer's). `names`: encodings of the
 * addresses dialled before (null: parse `ip` each time).
 * @throws {TypeError} when `ip` is not an IP address
 */
export function dialTcp(
  reactor: Reactor,
  ip: string,
  port: number,
  timeoutMs: number,
  names: SockaddrCache | null,
  done: (err: Error | null, conn: FdConn | null) => void,
): () => void {
  const c = reactor.libc;
  const name = DIAL_NAME;
  const len = names === null
    ? writeSockaddr(name, ip, port, "connect to")
    : names.write(name, ip, port, "connect to");
  let conn: FdConn;
  let connected: boolean;
  try {
    const fd = c.socket(len === 16 ? AF_INET : AF_INET6, TCP_SOCKET, 0);
    if (fd < 0) throw sysError(c, "socket()");
    // connect() before the epoll registration: an unconnected socket polls as EPOLLOUT |
    // EPOLLHUP, and the loop's wait on another thread could take that for a failed connect.
    const r = c.connect(fd, name, len);
    const code = r === 0 ? 0 : errno(c);
    if (r !== 0 && code !== Errno.EINPROGRESS) {
      c.close(fd);
      throw errnoError(code, "connect()");
    }
    conn = new FdConn(reactor, fd);
    connected = r === 0;
  } catch (err) {
    done(err as Error, null);
    return settledDial;
  }
  if (connected) {
    done(null, conn);
    return settledDial;
  }
  let settled = false;
  const fail = (err: Error) => {
    if (settled) return;
    settled = true;
    reactor.cancel(deadline);
    conn.close();
    done(err, null);
  };
  const deadline = reactor.after(timeoutMs, () => {
    fail(new Deno.errors.TimedOut(`connect(): timed out after ${timeoutMs} ms`));
  });
  conn.onceConnected((events) => {
    if (settled) return;
    // Writable without an error or hang-up: connected (SO_ERROR is read only on failure).
    if ((events & (EPOLLERR | EPOLLHUP)) === 0) {
      settled = true;
      reactor.cancel(deadline);
      done(null, conn);
      return;
    }
    const soError = new Int32Array(1);
    const soLen = new Uint32Array([4]);
    const r = c.getsockopt(conn.fd, SOL_SOCKET, SO_ERROR, new Uint8Array(soError.buffer), soLen);
    if (r !== 0) return fail(sysError(c, "getsockopt(SO_ERROR)"));
    fail(errnoError(soError[0] || Errno.ECONNREFUSED, "connect()"));
  });
  return () => fail(new Deno.errors.Interrupted("connect(): cancelled"));
}
