// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * TCP keepalive and `TCP_USER_TIMEOUT` (tcp(7), RFC 1122 §4.2.3.6, RFC 5482) for long-lived
 * connections whose far end may vanish without a word: the tunnel between two nodes.
 *
 * Why: a node that loses power or its link sends no FIN and no reset, and TCP on its own never
 * ends an idle connection (and retries unacknowledged data for ~15 minutes): the tunnel
 * connection to it, and every proxied connection carried on it, would stay open on the other
 * node for good (measured: a peer cut off for 75 s kept 4 streams and their descriptors the whole
 * time). With keepalive the kernel probes a connection that has been quiet for
 * {@linkcode TcpKeepAlive.idleSec} and resets it when {@linkcode TcpKeepAlive.probes} probes go
 * unanswered; with `TCP_USER_TIMEOUT` data left unacknowledged that long resets it too. The
 * options are set through FFI on the C library (`libc.ts`): Deno's sockets offer only
 * `setKeepAlive(true)` with the system's timing (2 h idle by default). A listening socket passes
 * them to the connections it accepts (Linux copies the socket's options on accept).
 *
 * A peer whose kernel still answers but whose agent hangs (stopped, deadlocked) is not seen this
 * way; an HTTP/2 PING would see it, but Deno 2.9.6's `node:http2` crashed the process around
 * PINGs (measured), so the tunnel does not send them.
 * @module
 */
import { type Libc, libc } from "./libc.ts";
import { type TcpSocketInfo, tcpSockets } from "./nodelay.ts";

const SOL_SOCKET = 1;
const SO_KEEPALIVE = 9;
const IPPROTO_TCP = 6;
const TCP_KEEPIDLE = 4;
const TCP_KEEPINTVL = 5;
const TCP_KEEPCNT = 6;
const TCP_USER_TIMEOUT = 18;

/** When the kernel gives up on a connection whose peer has gone silent. */
export interface TcpKeepAlive {
  /** Quiet time before the first probe, seconds (`TCP_KEEPIDLE`). */
  readonly idleSec: number;
  /** Between probes, seconds (`TCP_KEEPINTVL`). */
  readonly intervalSec: number;
  /** Unanswered probes before the connection is reset (`TCP_KEEPCNT`). */
  readonly probes: number;
  /** Data unacknowledged this long resets the connection, ms (`TCP_USER_TIMEOUT`). */
  readonly userTimeoutMs: number;
}

/**
 * The tunnel's: a peer gone silent is given up after about a minute (30 s quiet, then three
 * probes 10 s apart; data unacknowledged for 60 s). A link that comes back sooner keeps its
 * connections, as TCP does (an outage of 20 s was measured to leave streams intact).
 */
export const TUNNEL_KEEPALIVE: TcpKeepAlive = {
  idleSec: 30,
  intervalSec: 10,
  probes: 3,
  userTimeoutMs: 60_000,
};

/**
 * Turns keepalive on for TCP socket `fd` with `ka`'s timing. Returns false when any option could
 * not be set (no C library, not a TCP socket).
 */
export function setKeepAliveFd(fd: number, ka: TcpKeepAlive, c: Libc | null = libc()): boolean {
  if (c === null) return false;
  const set = (level: number, name: number, value: number) =>
    c.setsockopt(fd, level, name, new Uint8Array(new Int32Array([value]).buffer), 4) === 0;
  return set(SOL_SOCKET, SO_KEEPALIVE, 1) &&
    set(IPPROTO_TCP, TCP_KEEPIDLE, ka.idleSec) &&
    set(IPPROTO_TCP, TCP_KEEPINTVL, ka.intervalSec) &&
    set(IPPROTO_TCP, TCP_KEEPCNT, ka.probes) &&
    set(IPPROTO_TCP, TCP_USER_TIMEOUT, ka.userTimeoutMs);
}

/** The keepalive settings of TCP socket `fd` (tests and diagnostics); null when unreadable. */
export function keepAliveOf(
  fd: number,
  c: Libc | null = libc(),
): (TcpKeepAlive & { readonly on: boolean }) | null {
  if (c === null) return null;
  const get = (level: number, name: number): number | null => {
    const int = new Int32Array(1);
    const len = new Uint32Array([4]);
    return c.getsockopt(fd, level, name, new Uint8Array(int.buffer), len) === 0 ? int[0]! : null;
  };
  const on = get(SOL_SOCKET, SO_KEEPALIVE);
  const idleSec = get(IPPROTO_TCP, TCP_KEEPIDLE);
  const intervalSec = get(IPPROTO_TCP, TCP_KEEPINTVL);
  const probes = get(IPPROTO_TCP, TCP_KEEPCNT);
  const userTimeoutMs = get(IPPROTO_TCP, TCP_USER_TIMEOUT);
  if (
    on === null || idleSec === null || intervalSec === null || probes === null ||
    userTimeoutMs === null
  ) return null;
  return { on: on !== 0, idleSec, intervalSec, probes, userTimeoutMs };
}

/**
 * Sets `ka` on this process's TCP listener at `hostname:port`, so every connection it accepts
 * from now on has it. Returns false when it could not (no C library or no such listener).
 */
export function setListenerKeepAlive(
  hostname: string,
  port: number,
  ka: TcpKeepAlive,
  c: Libc | null = libc(),
): boolean {
  return setFirst((s) => s.listening && s.port === port && s.hostname === hostname, ka, c);
}

/**
 * Sets `ka` on this process's connected TCP socket with local port `localPort` and remote port
 * `peerPort` (a socket Deno or `node:net` opened, found by its ports). Returns false when it
 * could not (no C library or no such socket).
 */
export function setConnectionKeepAlive(
  localPort: number,
  peerPort: number,
  ka: TcpKeepAlive,
  c: Libc | null = libc(),
): boolean {
  return setFirst((s) => !s.listening && s.port === localPort && s.peerPort === peerPort, ka, c);
}

/** Sets `ka` on the first of this process's TCP sockets that `match`es; false when none does. */
function setFirst(
  match: (s: TcpSocketInfo) => boolean,
  ka: TcpKeepAlive,
  c: Libc | null,
): boolean {
  for (const s of tcpSockets(c)) if (match(s)) return setKeepAliveFd(s.fd, ka, c);
  return false;
}
