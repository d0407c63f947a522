// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Resetting a `Deno.TcpConn`: ending it with RST instead of FIN. Deno 2.9.6 offers no way to,
 * nor the socket's descriptor, so {@linkcode TcpConnResets} finds the descriptor among this
 * process's by the connection's two ends (`getsockname`, `getpeername`, through FFI on the C
 * library), disconnects it — `connect(2)` with `AF_UNSPEC`, which Linux implements for TCP as
 * an abort (`tcp_disconnect`: RST to the peer, the socket back to `CLOSE`) — then closes the
 * connection. `SO_LINGER` {on, 0 s} would not do: Deno's `close()` calls `shutdown(SHUT_WR)`
 * first (`strace`), so the peer reads a FIN before the RST, and takes the end for a clean one.
 *
 * Why: the tunnel server dials a stream's endpoint with `Deno.connect`, and when the stream is
 * cut (the dialling side reset it, its connection died, the agent stops) the endpoint must see
 * an error, not a clean end it could take a truncated upload for (RFC 9293 §3.6: an abort is
 * signalled by RST). Finding the descriptor costs one `getsockname` per open descriptor, so it
 * is done only on that failure path, and **once per task for every reset asked in it** (a dead
 * tunnel connection cuts all its streams in the same task): one pass, however many.
 * @module
 */
import { type Libc, libc } from "./libc.ts";
import { openDescriptors, tcpNoDelay } from "./nodelay.ts";
import { AF_INET, AF_INET6, formatSockaddr, SOCKADDR_MAX, sockaddrPort } from "./sockaddr.ts";

/** The two ends of a connected TCP socket, as `Deno.TcpConn` reports them. */
export interface TcpEnds {
  readonly local: Deno.NetAddr;
  readonly remote: Deno.NetAddr;
}

/**
 * The descriptor of each connected TCP socket in `wanted` (null: not found), in one pass over
 * this process's open descriptors (`openDescriptors`, `nodelay.ts`), ending once all are found.
 * Only a descriptor whose local port is wanted costs more than its `getsockname`. Another
 * thread may close and reuse a descriptor meanwhile: use the answer at once.
 */
export function findTcpConnections(wanted: readonly TcpEnds[], c: Libc): (number | null)[] {
  const found: (number | null)[] = wanted.map(() => null);
  const ports = new Set(wanted.map((w) => w.local.port));
  const name = new Uint8Array(SOCKADDR_MAX);
  const view = new DataView(name.buffer);
  const peer = new Uint8Array(SOCKADDR_MAX);
  const peerView = new DataView(peer.buffer);
  const len = new Uint32Array(1);
  let missing = wanted.length;
  for (const fd of openDescriptors(c)) {
    if (missing === 0) break;
    len[0] = SOCKADDR_MAX;
    if (c.getsockname(fd, name, len) !== 0) continue;
    const family = view.getUint16(0, true);
    if (family !== AF_INET && family !== AF_INET6) continue;
    const port = sockaddrPort(view);
    if (!ports.has(port)) continue;
    len[0] = SOCKADDR_MAX;
    if (c.getpeername(fd, peer, len) !== 0) continue; // a listener, or not connected
    const host = formatSockaddr(view);
    const peerHost = formatSockaddr(peerView);
    const peerPort = sockaddrPort(peerView);
    const i = wanted.findIndex((w, j) =>
      found[j] === null && w.local.port === port && w.local.hostname === host &&
      w.remote.port === peerPort && w.remote.hostname === peerHost
    );
    // A connected UDP socket could have the same ends: TCP options fail on it.
    if (i < 0 || tcpNoDelay(fd, c) === null) continue;
    found[i] = fd;
    missing--;
  }
  return found;
}

/** `struct sockaddr` with `sa_family` `AF_UNSPEC` (0): what `connect(2)` disconnects with. */
const UNSPEC = new Uint8Array(16);

/**
 * Aborts connected TCP socket `fd`: the peer gets RST, the socket is left unconnected (Deno's
 * later `shutdown` fails quietly with `ENOTCONN`, its `close` sends nothing). False when the
 * kernel refused.
 */
export function disconnectTcp(fd: number, c: Libc): boolean {
  return c.connect(fd, UNSPEC, UNSPEC.byteLength) === 0;
}

/**
 * Resets `Deno.TcpConn`s (see the module docs): {@linkcode reset} queues the connection, and at
 * the end of the current task one pass finds every queued connection's descriptor, aborts it
 * ({@linkcode disconnectTcp}) and closes the connection. Without the C library (no
 * `--allow-ffi`, not Linux), or for a socket not found, the close sends a FIN, as before.
 */
export class TcpConnResets {
  readonly #c: Libc | null;
  #queue: Deno.TcpConn[] = [];
  #passes = 0;

  constructor(c: Libc | null = libc()) {
    this.#c = c;
  }

  /** Closes `conn` with RST at the end of this task (with FIN where that cannot be done). */
  reset(conn: Deno.TcpConn): void {
    if (this.#c === null) return closeQuietly(conn);
    this.#queue.push(conn);
    if (this.#queue.length === 1) queueMicrotask(() => this.#flush());
  }

  /** Passes made over the descriptors so far (one per task that asked for resets). */
  get passes(): number {
    return this.#passes;
  }

  #flush(): void {
    const conns = this.#queue;
    this.#queue = [];
    this.#passes++;
    const fds = findTcpConnections(
      conns.map((conn) => ({ local: conn.localAddr, remote: conn.remoteAddr })),
      this.#c!,
    );
    conns.forEach((conn, i) => {
      const fd = fds[i];
      if (fd !== null && fd !== undefined) disconnectTcp(fd, this.#c!);
      closeQuietly(conn);
    });
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}
