// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The proxy's socket layer (config `proxyEngine`), one per proxy thread:
 *
 * - `epoll`: non-blocking sockets driven by an epoll loop through FFI on the C library
 *   (`lib/sys/reactor.ts`, `tcp.ts`), and client ⇄ local endpoint copying without promises
 *   (`relay.ts`). Measured on short connections: 40 µs of CPU per connection instead of 79 µs
 *   for the same relay on `Deno.TcpConn`s (`bench/README.md`).
 * - `deno`: `Deno.listen` / `Deno.connect` and the read/write loops of `splice.ts`. Used where
 *   FFI is not allowed (or not on Linux), and when configured.
 *
 * Both give the proxy the same contract: listeners that hand over connections, a dialer with a
 * timeout, and a copy with half-close. Connections through the tunnel (an HTTP/2 stream, not a
 * socket) are copied with `splice.ts` under either engine.
 * @module
 */
import { type Logger, LogRateLimiter } from "../log/mod.ts";
import { libc } from "../sys/libc.ts";
import { Reactor } from "../sys/reactor.ts";
import { SockaddrCache } from "../sys/sockaddr.ts";
import { FdConn } from "../sys/tcp.ts";
import { dialTcp } from "../sys/tcp_dial.ts";
import { type AcceptLimit, FdListener } from "../sys/tcp_listener.ts";
import { AbortFanout, dialError, tcpDialer } from "./dial.ts";
import type { Dialer, DialTarget, UpstreamConn } from "./dialer.ts";
import { VipListener } from "./listener.ts";
import { relay, RelayBuffer } from "./relay.ts";
import { closeQuietly, splice, type SpliceBuffers, type SpliceResult } from "./splice.ts";

/** Config `proxyEngine`: `auto` is `epoll` where FFI on the C library is allowed, else `deno`. */
export type ProxyEngineSetting = "auto" | "epoll" | "deno";
/** The engine a proxy runs on. */
export type ProxyEngine = "epoll" | "deno";

/** An accepted client connection, as the proxy uses it. */
export interface ClientConn extends UpstreamConn {
  readonly remoteAddr: Deno.NetAddr;
}

/** A bound `VIP:port` listener of either engine. */
export interface ServiceListener {
  readonly addr: Deno.NetAddr;
  /**
   * Accepts until {@linkcode close}; resolves when the loop has ended. Call once. `onConn`
   * is never called before `serve()` has returned (the caller may still be setting up).
   */
  serve(onConn: (conn: ClientConn) => void): Promise<void>;
  /** Stops accepting; accepted connections are not affected. Idempotent. */
  close(): void;
}

/** Sockets of one proxy thread. */
export interface ProxyIo {
  readonly engine: ProxyEngine;
  /**
   * Binds `hostname:port` (`reusePort`: shared with the other proxy threads). While `limit`
   * is full (the proxy's connection cap) the listener does not accept.
   * @throws {Deno.errors.AddrNotAvailable} (VIP not on the device yet), `AddrInUse`, …
   */
  listen(
    hostname: string,
    port: number,
    reusePort: boolean,
    limit?: AcceptLimit,
  ): ServiceListener;
  /** Dials local endpoints. */
  readonly dialer: Dialer;
  /** Copies both ways with half-close until both end; closes both; never rejects. */
  copy(client: ClientConn, upstream: UpstreamConn, buffers: SpliceBuffers): Promise<SpliceResult>;
  /**
   * Ends a client the proxy cannot serve (no ready endpoint, every dial failed) so that it
   * sees an error rather than an empty reply, as kube-proxy's REJECT gives it: `epoll` resets
   * the connection (RST: reads fail with `ECONNRESET`); `deno` can only close it (FIN), since
   * a `Deno.TcpConn` offers no `SO_LINGER` (see README.md). Failure paths only.
   */
  reject(client: ClientConn): void;
  /** Releases the engine (call after every connection and listener is closed). */
  close(): Promise<void>;
}

/** The engine `setting` resolves to here: `auto` → `epoll` when the C library loads. */
export function resolveEngine(setting: ProxyEngineSetting): ProxyEngine {
  if (setting === "deno") return "deno";
  if (setting === "epoll") return "epoll";
  return libc() !== null ? "epoll" : "deno";
}

/**
 * Opens the sockets of one proxy thread: on `reactor` when given (the thread's shared epoll
 * loop, which the caller closes), else on a reactor of its own.
 * @throws {Deno.errors.NotSupported} for `epoll` without FFI on the C library
 */
export function openProxyIo(
  setting: ProxyEngineSetting,
  log: Logger,
  reactor: Reactor | null = null,
): ProxyIo {
  if (resolveEngine(setting) === "deno") return denoIo(log);
  if (reactor !== null) return new EpollIo(reactor, log, false);
  const c = libc();
  if (c === null) {
    throw new Deno.errors.NotSupported(
      'proxyEngine "epoll" needs Linux and --allow-ffi for the C library',
    );
  }
  return new EpollIo(
    Reactor.open(c, (error) => log.error("Proxy event loop error", { error })),
    log,
    true,
  );
}

/**
 * Logs a failed accept (out of descriptors: the listener backs off) at most once a minute per
 * proxy thread, with the count left out.
 */
function acceptErrorLogger(log: Logger): (addr: string, error: unknown) => void {
  const limiter = new LogRateLimiter();
  return (addr, error) =>
    limiter.warn(log, "accept", "Cannot accept connection, backing off", { addr, error });
}

/** The `deno` engine: Deno's own TCP sockets. */
export function denoIo(log: Logger): ProxyIo {
  const onAcceptError = acceptErrorLogger(log);
  return {
    engine: "deno",
    listen: (hostname, port, reusePort, limit) =>
      new VipListener(hostname, port, log, reusePort, limit, onAcceptError),
    dialer: tcpDialer,
    copy: (client, upstream, buffers) => splice(client, upstream, buffers),
    reject: closeQuietly,
    close: () => Promise.resolve(),
  };
}

/** The `epoll` engine. */
class EpollIo implements ProxyIo {
  readonly engine = "epoll";
  readonly dialer: Dialer;
  readonly #reactor: Reactor;
  readonly #log: Logger;
  /** Shared by every relay of this thread: used only within one synchronous event handler. */
  readonly #buffer = new RelayBuffer();
  /** Whether {@linkcode close} closes the reactor (it is not shared). */
  readonly #ownsReactor: boolean;
  readonly #onAcceptError: (addr: string, error: unknown) => void;

  constructor(reactor: Reactor, log: Logger, ownsReactor: boolean) {
    this.#reactor = reactor;
    this.#log = log;
    this.#ownsReactor = ownsReactor;
    this.#onAcceptError = acceptErrorLogger(log);
    this.dialer = new FdDialer(reactor);
  }

  listen(
    hostname: string,
    port: number,
    reusePort: boolean,
    limit?: AcceptLimit,
  ): ServiceListener {
    const l = new FdListener(this.#reactor, hostname, port, reusePort);
    const onError = this.#onAcceptError;
    return {
      addr: l.addr,
      serve: (onConn) =>
        l.serve(
          onConn,
          // EMFILE and friends: the listener backs off (100 ms, doubling) instead of spinning.
          (error) => onError(`${hostname}:${l.addr.port}`, error),
          limit,
        ),
      close: () => l.close(),
    };
  }

  copy(client: ClientConn, upstream: UpstreamConn, buffers: SpliceBuffers): Promise<SpliceResult> {
    if (
      client instanceof FdConn && upstream instanceof FdConn &&
      client.reactor === this.#reactor && upstream.reactor === this.#reactor
    ) {
      return relay(client, upstream, this.#buffer);
    }
    return splice(client, upstream, buffers);
  }

  reject(client: ClientConn): void {
    if (client instanceof FdConn) client.reset();
    else closeQuietly(client);
  }

  close(): Promise<void> {
    return this.#ownsReactor ? this.#reactor.close() : Promise.resolve();
  }
}

/**
 * Dials endpoints with non-blocking connects on the reactor; the timeout is a reactor
 * deadline (no JavaScript timer), and the caller's signal cancels pending dials.
 */
export class FdDialer implements Dialer {
  readonly #reactor: Reactor;
  readonly #aborts = new AbortFanout();
  readonly #names = new SockaddrCache();

  constructor(reactor: Reactor) {
    this.#reactor = reactor;
  }

  /** Connects to `target.backend`, failing with {@linkcode DialError} after `timeoutMs`. */
  dial(target: DialTarget, options: { timeoutMs: number; signal?: AbortSignal }): Promise<FdConn> {
    const outer = options.signal;
    if (outer?.aborted) return Promise.reject(dialError(target, options, outer.reason, false));
    // One promise per dial: dialTcp reports by callback (see its docs).
    const { promise, resolve, reject } = Promise.withResolvers<FdConn>();
    let settled = false;
    let abort: ReturnType<AbortFanout["add"]> | null = null;
    let cancel: () => void;
    try {
      cancel = dialTcp(
        this.#reactor,
        target.backend.ip,
        target.backend.port,
        options.timeoutMs,
        this.#names,
        (err, conn) => {
          settled = true;
          if (abort !== null) this.#aborts.delete(outer!, abort);
          if (err === null) resolve(conn!);
          else reject(dialError(target, options, err, err instanceof Deno.errors.TimedOut));
        },
      );
    } catch (err) {
      return Promise.reject(dialError(target, options, err, false));
    }
    if (!settled && outer) abort = this.#aborts.add(outer, cancel);
    return promise;
  }
}
