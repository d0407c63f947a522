// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Socket addresses and errors of the C library calls made through FFI: `sockaddr_in` /
 * `sockaddr_in6` encoding and decoding, and `errno` turned into the `Deno.errors` class Deno's
 * own sockets throw for the same condition, so callers branch on one set of classes.
 * @module
 */
import { formatIpv4, formatIpv6, ipv4ToBytes, ipv6ToBytes, parseIp } from "../netaddr/mod.ts";
import { errno, type Libc } from "./libc.ts";

/** `AF_INET`, `AF_INET6` (Linux). */
export const AF_INET = 2;
export const AF_INET6 = 10;
/** Room for `struct sockaddr_in6` (28 bytes), the larger of the two families. */
export const SOCKADDR_MAX = 28;
/** `socket(2)` flag: close on exec. */
export const SOCK_CLOEXEC = 0o2000000;
const IPPROTO_IPV6 = 41;
const IPV6_V6ONLY = 26;
const DUAL_STACK = new Int32Array([0]);

/** errno values (Linux, the same on x86_64 and aarch64) the callers handle by name. */
export const Errno = {
  ENOENT: 2,
  EINTR: 4,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  ENFILE: 23,
  EMFILE: 24,
  EPIPE: 32,
  ENOBUFS: 105,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  ENETUNREACH: 101,
  ECONNABORTED: 103,
  ECONNRESET: 104,
  ENOTCONN: 107,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  EHOSTUNREACH: 113,
  EINPROGRESS: 115,
} as const;

/** strerror(3) texts of the errors the TCP proxy and the sd_notify socket meet. */
const TEXTS: Readonly<Record<number, string>> = {
  [Errno.ENOENT]: "No such file or directory",
  [Errno.EAGAIN]: "Resource temporarily unavailable",
  [Errno.EACCES]: "Permission denied",
  [Errno.EMFILE]: "Too many open files",
  [Errno.ENFILE]: "Too many open files in system",
  [Errno.EPIPE]: "Broken pipe",
  [Errno.ENOBUFS]: "No buffer space available",
  [Errno.EADDRINUSE]: "Address in use",
  [Errno.EADDRNOTAVAIL]: "Address not available",
  [Errno.ENETUNREACH]: "Network is unreachable",
  [Errno.ECONNABORTED]: "Connection aborted",
  [Errno.ECONNRESET]: "Connection reset by peer",
  [Errno.ENOTCONN]: "Transport endpoint is not connected",
  [Errno.ETIMEDOUT]: "Connection timed out",
  [Errno.ECONNREFUSED]: "Connection refused",
  [Errno.EHOSTUNREACH]: "No route to host",
};

/**
 * The error for `errno` value `code` after `what` failed, as the `Deno.errors` class Deno's
 * sockets use (`ConnectionRefused`, `AddrInUse`, …; others are plain `Error`s). The message
 * ends like Rust's io errors: `"connect(): Connection refused (os error 111)"`.
 */
export function errnoError(code: number, what: string): Error {
  const msg = `${what}: ${TEXTS[code] ?? "System error"} (os error ${code})`;
  switch (code) {
    case Errno.ENOENT:
      return new Deno.errors.NotFound(msg);
    case Errno.EADDRINUSE:
      return new Deno.errors.AddrInUse(msg);
    case Errno.EADDRNOTAVAIL:
      return new Deno.errors.AddrNotAvailable(msg);
    case Errno.EACCES:
      return new Deno.errors.PermissionDenied(msg);
    case Errno.ECONNREFUSED:
      return new Deno.errors.ConnectionRefused(msg);
    case Errno.ECONNRESET:
      return new Deno.errors.ConnectionReset(msg);
    case Errno.ECONNABORTED:
      return new Deno.errors.ConnectionAborted(msg);
    case Errno.EPIPE:
      return new Deno.errors.BrokenPipe(msg);
    case Errno.ETIMEDOUT:
      return new Deno.errors.TimedOut(msg);
    case Errno.ENOTCONN:
      return new Deno.errors.NotConnected(msg);
    case Errno.ENETUNREACH:
    case Errno.EHOSTUNREACH:
      return new Deno.errors.NetworkUnreachable(msg);
    default:
      return new Error(msg);
  }
}

/** {@linkcode errnoError} for the `errno` of the last synchronous call on this thread. */
export function sysError(c: Libc, what: string): Error {
  return errnoError(errno(c), what);
}

/**
 * Writes `hostname:port` as a `sockaddr_in`/`sockaddr_in6` into `buf` (at least
 * {@linkcode SOCKADDR_MAX} bytes); returns its length (16 or 28).
 * @throws {TypeError} when `hostname` is not an IP address (`what` names the caller)
 */
export function writeSockaddr(
  buf: Uint8Array,
  hostname: string,
  port: number,
  what: string,
): number {
  const ip = parseIp(hostname);
  if (ip === null) throw new TypeError(`Cannot ${what} "${hostname}": not an IP address`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  buf.fill(0, 0, SOCKADDR_MAX);
  dv.setUint16(2, port, false);
  if (ip.family === 4) {
    dv.setUint16(0, AF_INET, true);
    buf.set(ipv4ToBytes(ip.address), 4);
    return 16;
  }
  dv.setUint16(0, AF_INET6, true);
  buf.set(ipv6ToBytes(ip.groups), 8);
  return 28;
}

/**
 * `sockaddr`s of the addresses dialled, encoded once per IP text: parsing the text on every
 * dial (a split, four regular-expression tests and two allocations) was about 2 % of the
 * proxy's CPU per short connection. Endpoints change rarely; past `max` addresses the cache
 * starts over, so a churn of endpoints cannot grow it without bound.
 */
export class SockaddrCache {
  readonly #byIp = new Map<string, Uint8Array>();
  readonly #max: number;

  constructor(max = 4096) {
    this.#max = max;
  }

  /**
   * Writes `ip:port` into `buf` (at least {@linkcode SOCKADDR_MAX} bytes) like
   * {@linkcode writeSockaddr}; returns its length (16 or 28).
   * @throws {TypeError} when `ip` is not an IP address (`what` names the caller)
   */
  write(buf: Uint8Array, ip: string, port: number, what: string): number {
    let enc = this.#byIp.get(ip);
    if (enc === undefined) {
      const tmp = new Uint8Array(SOCKADDR_MAX);
      enc = tmp.slice(0, writeSockaddr(tmp, ip, 0, what));
      if (this.#byIp.size >= this.#max) this.#byIp.clear();
      this.#byIp.set(ip, enc);
    }
    buf.set(enc);
    buf[2] = port >>> 8; // sin_port / sin6_port: network byte order
    buf[3] = port & 255;
    return enc.length;
  }
}

/** Text form of the address in a `sockaddr` (IPv4-mapped IPv6 reported as IPv4, as Deno does). */
export function formatSockaddr(name: DataView): string {
  if (name.getUint16(0, true) === AF_INET) return formatIpv4(name.getUint32(4, false));
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(name.getUint16(8 + 2 * i, false));
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return formatIpv4(name.getUint32(20, false));
  }
  return formatIpv6(groups);
}

/** The port in a `sockaddr` (same offset in both families). */
export function sockaddrPort(name: DataView): number {
  return name.getUint16(2, false);
}

/**
 * A socket of `type` (with its flags) bound to `hostname:port` (port 0: any free port), with
 * `setup(fd)` run before the bind (socket options); `"::"` also takes IPv4 (dual stack), as
 * Deno's sockets do. Returns the descriptor and the bound port; closes it on failure.
 * @throws {TypeError} when `hostname` is not an IP address (`what` names the caller, e.g.
 * "listen on"); `Deno.errors.AddrInUse`, `AddrNotAvailable`, … from the calls, their message
 * naming the address (`Cannot listen on 1.2.3.4:80: bind(): …`), or only the call when `what`
 * is null: the caller names the address itself (`bind(): …`, as Deno's own sockets say it)
 */
export function bindSocket(
  c: Libc,
  type: number,
  hostname: string,
  port: number,
  what: string | null,
  setup: (fd: number) => void = () => {},
): { fd: number; port: number } {
  const name = new Uint8Array(SOCKADDR_MAX);
  const len = writeSockaddr(name, hostname, port, what ?? "bind");
  const fd = c.socket(len === 16 ? AF_INET : AF_INET6, type, 0);
  if (fd < 0) throw sysError(c, "socket()");
  try {
    setup(fd);
    if (len === 28 && hostname === "::") {
      c.setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, new Uint8Array(DUAL_STACK.buffer), 4);
    }
    if (c.bind(fd, name, len) !== 0) {
      throw sysError(c, what === null ? "bind()" : `Cannot ${what} ${hostname}:${port}: bind()`);
    }
    const got = new Uint8Array(SOCKADDR_MAX);
    if (c.getsockname(fd, got, new Uint32Array([SOCKADDR_MAX])) !== 0) {
      throw sysError(c, "getsockname()");
    }
    return { fd, port: sockaddrPort(new DataView(got.buffer)) };
  } catch (err) {
    c.close(fd);
    throw err;
  }
}
