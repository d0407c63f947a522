// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * `TCP_NODELAY` for sockets Deno opens itself and offers no option for: found among this
 * process's descriptors by their addresses (`getsockname`, `getpeername`), through FFI on the C
 * library (`libc.ts`).
 *
 * Why: `Deno.serve` with `cert`/`key` (Deno 2.9.6) leaves Nagle's algorithm on for the
 * connections it accepts (`strace`: no `setsockopt(TCP_NODELAY)` on them, while without TLS it
 * sets it on each), and has neither an option nor a handle to change it. On Linux an accepted
 * socket inherits `TCP_NODELAY` from its listening socket, so setting it once on the listener
 * `Deno.serve` bound covers every connection it accepts afterwards
 * ({@linkcode setListenerNoDelay}).
 * @module
 */
import { type Libc, libc } from "./libc.ts";
import { AF_INET, AF_INET6, formatSockaddr, SOCKADDR_MAX, sockaddrPort } from "./sockaddr.ts";
import { RLIMIT_NOFILE } from "./fd_limits.ts";

const SOL_SOCKET = 1;
const SO_ACCEPTCONN = 30;
const IPPROTO_TCP = 6;
const TCP_NODELAY = 1;
const ONE = new Int32Array([1]);

/** A TCP socket of this process (IPv4 or IPv6), as {@linkcode tcpSockets} finds it. */
export interface TcpSocketInfo {
  readonly fd: number;
  /** Local address (`getsockname`), as Deno prints it (IPv4-mapped as IPv4). */
  readonly hostname: string;
  readonly port: number;
  /** A listening socket (`SO_ACCEPTCONN`). */
  readonly listening: boolean;
  /** The remote port (`getpeername`) of a connected socket; null otherwise. */
  readonly peerPort: number | null;
}

/** The open-files limit, at most 2^20: no descriptor number reaches it. */
function fdCeiling(c: Libc): number {
  const lim = new BigUint64Array(2);
  if (c.getrlimit(RLIMIT_NOFILE, lim) !== 0) return 1024;
  return Number(lim[0]! < 1n << 20n ? lim[0]! : 1n << 20n);
}

/**
 * The descriptor numbers that may be open in this process, lowest first: up to the size of its
 * descriptor table (`FDSize` in `/proc/self/status`: the kernel grows the table in powers of
 * two as descriptors are opened, so every open one is below it), at most the open-files limit.
 * So a search for a socket that is not there (an endpoint that reset first, `tcp_reset.ts`)
 * costs about as many calls as the agent has descriptors, not the limit (65 536 under the
 * systemd unit: 20–40 ms of `getsockname` calls on the thread). Listing `/proc/self/fd` instead
 * took 3.8 ms for 2000 descriptors, where the 2048 calls take 1.3.
 */
export function* openDescriptors(c: Libc): Generator<number> {
  const end = Math.min(fdTableSize() ?? Infinity, fdCeiling(c));
  for (let fd = 0; fd < end; fd++) yield fd;
}

/** `FDSize` of `/proc/self/status`, or null when it cannot be read. */
function fdTableSize(): number | null {
  try {
    const m = /^FDSize:\s*(\d+)$/m.exec(Deno.readTextFileSync("/proc/self/status"));
    return m === null ? null : Number(m[1]);
  } catch {
    return null;
  }
}

/**
 * This process's IPv4 and IPv6 TCP sockets, lowest descriptor first (none without the C
 * library). Descriptors are tried upwards from 0 with `getsockname` (a closed one or a
 * non-socket fails at once) up to the descriptor table's size ({@linkcode openDescriptors}; the
 * open-files limit before, which made a search for a socket not there cost 65 536 calls), lazily:
 * a socket opened moments ago
 * has a low number, since Linux hands out the lowest free one, so a search for it ends early.
 * Another thread may close and reuse a descriptor meanwhile: use an answer at once.
 */
export function* tcpSockets(c: Libc | null = libc()): Generator<TcpSocketInfo> {
  if (c === null) return;
  const name = new Uint8Array(SOCKADDR_MAX);
  const view = new DataView(name.buffer);
  const len = new Uint32Array(1);
  const int = new Int32Array(1);
  const intLen = new Uint32Array(1);
  for (const fd of openDescriptors(c)) {
    len[0] = SOCKADDR_MAX;
    if (c.getsockname(fd, name, len) !== 0) continue;
    const family = view.getUint16(0, true);
    if (family !== AF_INET && family !== AF_INET6) continue;
    intLen[0] = 4;
    // SO_TYPE would tell TCP from UDP; SO_ACCEPTCONN fails on neither, IPPROTO_TCP options
    // fail on UDP (ENOPROTOOPT): a TCP socket is one whose TCP_NODELAY can be read.
    if (tcpNoDelay(fd, c) === null) continue;
    if (c.getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, new Uint8Array(int.buffer), intLen) !== 0) {
      continue;
    }
    const hostname = formatSockaddr(view);
    const port = sockaddrPort(view);
    const listening = int[0] !== 0;
    let peerPort: number | null = null;
    if (!listening) {
      len[0] = SOCKADDR_MAX;
      if (c.getpeername(fd, name, len) === 0) peerPort = sockaddrPort(view);
    }
    yield { fd, hostname, port, listening, peerPort };
  }
}

/** Whether `TCP_NODELAY` is on for TCP socket `fd`; null when it cannot be read. */
export function tcpNoDelay(fd: number, c: Libc | null = libc()): boolean | null {
  if (c === null) return null;
  const int = new Int32Array(1);
  const len = new Uint32Array([4]);
  if (c.getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, new Uint8Array(int.buffer), len) !== 0) {
    return null;
  }
  return int[0] !== 0;
}

/**
 * Sets `TCP_NODELAY` on this process's TCP listener at `hostname:port` (e.g. the one
 * `Deno.serve` bound), so every connection it accepts from now on has it (Linux copies it to
 * the accepted socket). Call it before the first connection arrives: right after the listener
 * is bound, in the same task. Returns false when it could not (no C library — `--allow-ffi`
 * not granted, not Linux — or no such listener).
 */
export function setListenerNoDelay(
  hostname: string,
  port: number,
  c: Libc | null = libc(),
): boolean {
  if (c === null) return false;
  for (const s of tcpSockets(c)) {
    if (!s.listening || s.port !== port || s.hostname !== hostname) continue;
    return c.setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, new Uint8Array(ONE.buffer), 4) === 0;
  }
  return false;
}
