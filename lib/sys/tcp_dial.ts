// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Outgoing TCP connections on the {@linkcode Reactor}: a non-blocking connect with a timeout
 * kept by the reactor, as a promise ({@linkcode connectTcp}) or with a callback
 * ({@linkcode dialTcp}, the proxy's), giving a connected {@linkcode FdConn}.
 * @module
 */
import { errno } from "./libc.ts";
import { EPOLLERR, EPOLLHUP, type Reactor } from "./reactor.ts";
import {
  AF_INET,
  AF_INET6,
  Errno,
  errnoError,
  SOCKADDR_MAX,
  type SockaddrCache,
  sysError,
  writeSockaddr,
} from "./sockaddr.ts";
import { FdConn, SOL_SOCKET, TCP_SOCKET } from "./tcp.ts";

const SO_ERROR = 4;

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
