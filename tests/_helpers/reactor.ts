// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/** A fresh epoll {@linkcode Reactor} for a test, closed by `await using`; a synchronous connect. */
import assert from "node:assert/strict";
import { errno, libc } from "../../lib/sys/libc.ts";
import { Reactor } from "../../lib/sys/reactor.ts";
import {
  AF_INET,
  AF_INET6,
  Errno,
  errnoError,
  SOCK_CLOEXEC,
  SOCKADDR_MAX,
  writeSockaddr,
} from "../../lib/sys/sockaddr.ts";
import { FdConn } from "../../lib/sys/tcp.ts";
import { FdListener } from "../../lib/sys/tcp_listener.ts";

/** Opens a reactor on the C library (the tests run with `--allow-all`, so FFI is allowed). */
export function openReactor(): Reactor & AsyncDisposable {
  const c = libc();
  assert.ok(c, "the tests run with --allow-all: the C library loads");
  const r = Reactor.open(c);
  return Object.assign(r, { [Symbol.asyncDispose]: () => r.close() });
}

const SOCK_STREAM_NONBLOCK = 1 | 0o4000;
const EALREADY = 114;
const EISCONN = 106;

/**
 * Connects to `ip:port` before returning, without yielding to the event loop: the handshake
 * completes in the kernel (the listener's owner need not accept), and nothing else on this
 * thread — a proxy under test — can act on the connection before the caller holds it. So a
 * test can tell "the peer reset the connection" on read apart from a connect that failed.
 * Spins on `connect(2)` (`EALREADY` while in progress, `EISCONN` once done) for at most 5 s.
 */
export function connectNow(reactor: Reactor, ip: string, port: number): FdConn {
  const c = reactor.libc;
  const name = new Uint8Array(new ArrayBuffer(SOCKADDR_MAX));
  const len = writeSockaddr(name, ip, port, "connect to");
  const fd = c.socket(len === 16 ? AF_INET : AF_INET6, SOCK_STREAM_NONBLOCK | SOCK_CLOEXEC, 0);
  assert.ok(fd >= 0, "socket()");
  const deadline = performance.now() + 5000;
  for (;;) {
    const code = c.connect(fd, name, len) === 0 ? EISCONN : errno(c);
    if (code === EISCONN) return new FdConn(reactor, fd);
    if (
      (code !== Errno.EINPROGRESS && code !== EALREADY && code !== Errno.EINTR) ||
      performance.now() > deadline
    ) {
      c.close(fd);
      throw errnoError(code, "connect()");
    }
  }
}

/** A loopback endpoint whose connections the test holds as `FdConn`s (so it can reset them). */
export interface HeldEndpoint extends AsyncDisposable {
  readonly port: number;
  /** The next connection accepted (in order). */
  next(): Promise<FdConn>;
}

/**
 * Listens on 127.0.0.1 (port 0) on `reactor` and hands each accepted connection to
 * {@linkcode HeldEndpoint.next}: a test endpoint that can end a connection with a reset
 * (`FdConn.reset()`), which a `Deno.TcpConn` cannot. Disposing closes the listener and every
 * connection not taken.
 */
export function heldEndpoint(reactor: Reactor): HeldEndpoint {
  const listener = new FdListener(reactor, "127.0.0.1", 0);
  const waiting: PromiseWithResolvers<FdConn>[] = [];
  const ready: FdConn[] = [];
  const serving = listener.serve((c) => {
    const w = waiting.shift();
    if (w) w.resolve(c);
    else ready.push(c);
  }, (err) => assert.fail(err));
  return {
    port: listener.addr.port,
    next() {
      const c = ready.shift();
      if (c) return Promise.resolve(c);
      const w = Promise.withResolvers<FdConn>();
      waiting.push(w);
      return w.promise;
    },
    async [Symbol.asyncDispose]() {
      listener.close();
      await serving;
      for (const c of ready.splice(0)) c.close();
    },
  };
}
