// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * A UDP socket that receives and sends DNS messages in batches with Linux `recvmmsg(2)` and
 * `sendmmsg(2)`, called through Deno's FFI on the C library.
 *
 * Why: Deno's `DatagramConn` costs one async op (a promise, a wake-up of the event loop and an
 * address object) per datagram received and one per datagram sent — measured 7.2 µs of CPU per
 * query, more than dnsmasq needs for a whole answer (3.9 µs). Under load, one `recvmmsg` call
 * returns every queued query (up to {@linkcode BATCH}) and one `sendmmsg` sends all their
 * answers, so the per-call cost is shared by the batch. At low load a batch is one query and
 * this behaves like a plain socket.
 *
 * Waiting for queries: given the thread's {@linkcode Reactor} (the agent's main thread has one,
 * shared with the proxy), the socket is one more descriptor of that epoll loop and every
 * receive is synchronous with `MSG_DONTWAIT`; the loop's short waits on the JavaScript thread
 * under load then serve DNS and proxy alike (one wake-up for both, no thread hop). Without a
 * reactor the receive call blocks on one of Deno's blocking threads (`nonblocking: true` FFI),
 * with `MSG_WAITFORONE` (wait for the first datagram, then take whatever else is queued), and
 * `close()` wakes it with `shutdown(2)`. Sends are synchronous with `MSG_DONTWAIT` (a full send
 * buffer drops the answer, as UDP may).
 *
 * Linux only (x86_64 and aarch64 share every struct layout used here). Needs `--allow-ffi` for
 * one of {@linkcode LIBC_PATHS}; without it {@linkcode MmsgSocket.available} is false and the
 * server uses `Deno.listenDatagram`.
 * @module
 */
import { formatIpv4 } from "../netaddr/mod.ts";
import { errno, type Libc, libc as loadLibc } from "../sys/libc.ts";
import { EPOLLIN, type Reactor } from "../sys/reactor.ts";
import {
  AF_INET,
  bindSocket,
  Errno,
  errnoError,
  formatSockaddr,
  SOCK_CLOEXEC,
  SOCKADDR_MAX,
  sysError,
} from "../sys/sockaddr.ts";

export { LIBC_PATHS } from "../sys/libc.ts";

/** Datagrams taken per `recvmmsg` call at most. */
export const BATCH = 64;
/** Batches taken on the JS thread in a row before the loop yields to the event loop. */
const SYNC_BATCHES = 4;
/** Largest datagram received; longer ones are truncated by the kernel and dropped. */
const SLOT = 4096;
/** `struct mmsghdr`: `struct msghdr` (56 bytes) + `unsigned int msg_len`, padded to 64. */
const MMSGHDR = 64;
/** `struct iovec`: base pointer + length. */
const IOVEC = 16;
/** Room for `struct sockaddr_in6` (28 bytes), the larger of the two families. */
const NAME = SOCKADDR_MAX;

const SOCK_DGRAM = 2;
const MSG_TRUNC = 0x20;
const MSG_DONTWAIT = 0x40;
const MSG_WAITFORONE = 0x10000;
const SHUT_RDWR = 2;
/** The answer to one received datagram: bytes now, a promise of bytes, or nothing. */
export type MmsgReply = Uint8Array | null | Promise<Uint8Array | null>;

/**
 * Handles one query. `data` and `out` are only valid during the call; a synchronous answer
 * may be written into `out` (and returned as a view of it).
 */
export type MmsgHandler = (data: Uint8Array, peer: string, out: Uint8Array) => MmsgReply;

/** A bound UDP socket served with `recvmmsg`/`sendmmsg`. */
export class MmsgSocket {
  readonly #c: Libc;
  readonly #fd: number;
  readonly addr: { hostname: string; port: number };
  #closed = false;
  #serving = false;
  /** Receive slots the last call filled. */
  #used = BATCH;
  /** Ends {@linkcode serve} on a reactor. */
  #stop: (() => void) | null = null;

  // One receive and one send vector, each slot with its own buffers (no allocation per packet).
  readonly #inData = new Uint8Array(BATCH * SLOT);
  readonly #outData = new Uint8Array(BATCH * SLOT);
  readonly #names = new Uint8Array(BATCH * NAME);
  readonly #rx = new Uint8Array(BATCH * MMSGHDR);
  readonly #rxIov = new Uint8Array(BATCH * IOVEC);
  readonly #tx = new Uint8Array(BATCH * MMSGHDR);
  readonly #txIov = new Uint8Array(BATCH * IOVEC);
  readonly #rxView: DataView;
  readonly #txView: DataView;
  readonly #txIovView: DataView;
  readonly #namesView: DataView;
  /** Address of each receive slot's peer name, and of each out slot. */
  readonly #namePtrs: bigint[] = [];
  readonly #outPtrs: bigint[] = [];
  readonly #peers = new Map<number, string>();
  /** Answers that are not views of the send buffers, kept alive until `sendmmsg` returns. */
  readonly #pinned: (Uint8Array | null)[] = new Array(BATCH).fill(null);

  private constructor(c: Libc, fd: number, addr: { hostname: string; port: number }) {
    this.#c = c;
    this.#fd = fd;
    this.addr = addr;
    this.#rxView = new DataView(this.#rx.buffer);
    this.#txView = new DataView(this.#tx.buffer);
    this.#txIovView = new DataView(this.#txIov.buffer);
    const rxIov = new DataView(this.#rxIov.buffer);
    const inBase = ptr(c, this.#inData);
    const namesBase = ptr(c, this.#names);
    const rxIovBase = ptr(c, this.#rxIov);
    const txIovBase = ptr(c, this.#txIov);
    this.#namesView = new DataView(this.#names.buffer);
    const outBase = ptr(c, this.#outData);
    const txIov = this.#txIovView;
    for (let i = 0; i < BATCH; i++) {
      this.#namePtrs.push(namesBase + BigInt(i * NAME));
      this.#outPtrs.push(outBase + BigInt(i * SLOT));
      txIov.setBigUint64(i * IOVEC, outBase + BigInt(i * SLOT), true);
      rxIov.setBigUint64(i * IOVEC, inBase + BigInt(i * SLOT), true);
      rxIov.setBigUint64(i * IOVEC + 8, BigInt(SLOT), true);
      const h = i * MMSGHDR;
      this.#rxView.setBigUint64(h, namesBase + BigInt(i * NAME), true); // msg_name
      this.#rxView.setBigUint64(h + 16, rxIovBase + BigInt(i * IOVEC), true); // msg_iov
      this.#rxView.setBigUint64(h + 24, 1n, true); // msg_iovlen
      this.#txView.setBigUint64(h, namesBase + BigInt(i * NAME), true);
      this.#txView.setBigUint64(h + 16, txIovBase + BigInt(i * IOVEC), true);
      this.#txView.setBigUint64(h + 24, 1n, true);
    }
  }

  /** Whether batched sockets can be used here (Linux, FFI allowed, libc found). */
  static available(): boolean {
    return loadLibc() !== null;
  }

  /**
   * Binds `hostname:port` (port 0: any free port). `c` is the C library to call (tests pass
   * one whose calls can be made to fail).
   * @throws {Deno.errors.AddrInUse} and the like, as `Deno.listenDatagram` would
   * @throws {Deno.errors.NotSupported} when {@linkcode available} is false
   */
  static open(hostname: string, port: number, c: Libc | null = loadLibc()): MmsgSocket {
    if (c === null) throw new Deno.errors.NotSupported("Batched UDP sockets need Linux and FFI");
    const { fd, port: boundPort } = bindSocket(
      c,
      SOCK_DGRAM | SOCK_CLOEXEC,
      hostname,
      port,
      null, // the DNS server names the address in its error
    );
    return new MmsgSocket(c, fd, { hostname, port: boundPort });
  }

  /**
   * Receives and answers until {@linkcode close}, on `reactor` when given (else on a blocking
   * thread). Synchronous answers of one batch go out together in one `sendmmsg`; promised ones
   * are sent on their own when they settle. Never rejects; `onError` hears about failed calls.
   */
  async serve(
    handle: MmsgHandler,
    onError: (err: Error) => void,
    reactor: Reactor | null = null,
  ): Promise<void> {
    if (this.#serving || this.#closed) throw new TypeError("MmsgSocket.serve() called twice");
    this.#serving = true;
    try {
      if (reactor !== null) await this.#serveOn(reactor, handle, onError);
      else await this.#loop(handle, onError);
    } finally {
      this.#c.close(this.#fd);
    }
  }

  /**
   * Serving on a {@linkcode Reactor}: the socket is registered level-triggered, and each
   * readiness takes up to {@linkcode SYNC_BATCHES} batches without waiting (the level trigger
   * reports what is left on the next turn, after the thread's other sockets had theirs).
   */
  #serveOn(reactor: Reactor, handle: MmsgHandler, onError: (err: Error) => void): Promise<void> {
    const done = Promise.withResolvers<void>();
    let token = -1;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let failures = 0;
    const onIo = () => {
      for (let b = 0; b < SYNC_BATCHES && !this.#closed; b++) {
        this.#resetNames();
        const n = this.#c.recvmmsgNow(this.#fd, this.#rx, BATCH, MSG_DONTWAIT, null);
        if (n > 0) {
          failures = 0;
          this.#used = n;
          this.#answer(n, handle, onError);
          continue;
        }
        this.#used = 0;
        const code = n < 0 ? errno(this.#c) : Errno.EAGAIN;
        if (code === Errno.EAGAIN || code === Errno.EINTR) return;
        // A failing socket stays readable (level-triggered): report the first failure of a
        // streak, and after a few step out of the loop for 100 ms instead of spinning.
        if (failures++ === 0) onError(errnoError(code, "DNS UDP recvmmsg()"));
        if (failures > 3) {
          reactor.remove(this.#fd, token);
          retry = setTimeout(register, 100);
        }
        return;
      }
    };
    const register = () => {
      retry = undefined;
      token = reactor.add(this.#fd, EPOLLIN, { onIo });
    };
    register();
    this.#stop = () => {
      clearTimeout(retry);
      if (retry === undefined) reactor.forget(token);
      done.resolve();
    };
    return done.promise;
  }

  /** msg_namelen is in/out: reset it in the slots the last call filled. */
  #resetNames(): void {
    const rx = this.#rxView;
    for (let i = 0; i < this.#used; i++) rx.setUint32(i * MMSGHDR + 8, NAME, true);
  }

  async #loop(handle: MmsgHandler, onError: (err: Error) => void): Promise<void> {
    const c = this.#c;
    let failures = 0;
    let busy = 0;
    while (!this.#closed) {
      this.#resetNames();
      // Under load more queries are queued by the time a batch is answered: take them on this
      // thread at once (no hop to a blocking thread and back), a few batches in a row before
      // yielding to the event loop; otherwise wait on a blocking thread.
      let n = busy > 0 && busy < SYNC_BATCHES
        ? c.recvmmsgNow(this.#fd, this.#rx, BATCH, MSG_DONTWAIT, null)
        : -1;
      if (n > 0) {
        busy++;
      } else {
        busy = 0;
        n = await c.recvmmsg(this.#fd, this.#rx, BATCH, MSG_WAITFORONE, null);
        if (n > 0) busy = 1;
      }
      if (this.#closed) break;
      if (n <= 0) {
        // 0: shut down (close() sets #closed first). Negative: EINTR and the like; errno
        // belongs to the blocking thread the call ran on, so it cannot be read here. Report
        // the first failure of a streak and back off while it lasts, but never stop serving.
        this.#used = 0;
        if (n < 0 && failures++ === 0) onError(new Error("DNS UDP recvmmsg() failed"));
        if (failures > 3) await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      failures = 0;
      this.#used = n;
      this.#answer(n, handle, onError);
    }
  }

  /**
   * Answers the `n` queries the last receive took: synchronous answers go out together in one
   * `sendmmsg`, promised ones on their own when they settle.
   */
  #answer(n: number, handle: MmsgHandler, onError: (err: Error) => void): void {
    const c = this.#c;
    const rx = this.#rxView;
    const tx = this.#txView;
    const iov = this.#txIovView;
    const names = this.#namesView;
    const outBuffer = this.#outData.buffer;
    let k = 0;
    for (let i = 0; i < n; i++) {
      const h = i * MMSGHDR;
      if ((rx.getInt32(h + 48, true) & MSG_TRUNC) !== 0) continue;
      const len = rx.getUint32(h + 56, true);
      const namelen = rx.getUint32(h + 8, true);
      const data = this.#inData.subarray(i * SLOT, i * SLOT + len);
      const out = this.#outData.subarray(k * SLOT, (k + 1) * SLOT);
      let reply: MmsgReply;
      try {
        reply = handle(data, this.#peer(names, i * NAME), out);
      } catch (err) {
        onError(err as Error);
        continue;
      }
      if (reply === null) continue;
      if (!(reply instanceof Uint8Array)) {
        const to = this.#names.slice(i * NAME, i * NAME + namelen);
        reply.then((r) => {
          if (r !== null && !this.#closed) this.#sendOne(r, to);
        }, (err) => onError(err as Error));
        continue;
      }
      // Send slot k: the peer's name is receive slot i's; the data is usually at the start
      // of out slot k (the preset pointer), otherwise point at it and restore it afterwards.
      const t = k * MMSGHDR;
      tx.setBigUint64(t, this.#namePtrs[i]!, true);
      tx.setUint32(t + 8, namelen, true);
      if (reply.buffer !== outBuffer || reply.byteOffset !== k * SLOT) {
        iov.setBigUint64(k * IOVEC, ptr(c, reply), true);
        this.#pinned[k] = reply;
      }
      iov.setUint32(k * IOVEC + 8, reply.byteLength, true);
      k++;
    }
    if (k > 0) {
      this.#sendBatch(k, onError);
      for (let j = 0; j < k; j++) {
        if (this.#pinned[j] === null) continue;
        this.#pinned[j] = null;
        iov.setBigUint64(j * IOVEC, this.#outPtrs[j]!, true);
      }
    }
  }

  /** The peer address of receive slot at `off` as text; IPv4 strings are cached. */
  #peer(names: DataView, off: number): string {
    if (names.getUint16(off, true) !== AF_INET) {
      return formatSockaddr(new DataView(names.buffer, off, NAME));
    }
    const ip = names.getUint32(off + 4, false);
    let text = this.#peers.get(ip);
    if (text === undefined) {
      if (this.#peers.size >= 4096) this.#peers.clear();
      text = formatIpv4(ip);
      this.#peers.set(ip, text);
    }
    return text;
  }

  #sendBatch(k: number, onError: (err: Error) => void): void {
    let sent = 0;
    while (sent < k) {
      const r = this.#c.sendmmsg(
        this.#fd,
        this.#tx.subarray(sent * MMSGHDR),
        k - sent,
        MSG_DONTWAIT,
      );
      if (r <= 0) {
        // EAGAIN: the send buffer is full; the rest are dropped (UDP; clients retry).
        if (errno(this.#c) !== Errno.EAGAIN) onError(sysError(this.#c, "sendmmsg()"));
        return;
      }
      sent += r;
    }
  }

  #sendOne(data: Uint8Array, to: Uint8Array): void {
    this.#c.sendto(this.#fd, data, BigInt(data.byteLength), MSG_DONTWAIT, to, to.byteLength);
  }

  /**
   * Stops {@linkcode serve} at once (on a reactor: leaves the loop; otherwise `shutdown(2)`
   * wakes its blocked receive), which closes the socket on its way out; when not serving,
   * closes the socket now. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#stop !== null) this.#stop();
    else if (this.#serving) this.#c.shutdown(this.#fd, SHUT_RDWR);
    else this.#c.close(this.#fd);
  }
}

function ptr(c: Libc, buf: Uint8Array): bigint {
  return BigInt(c.addressOf(buf, buf, 0n));
}
