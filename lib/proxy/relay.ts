// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Copying between two {@linkcode FdConn}s of the epoll engine without promises: each
 * readiness event moves what it can with synchronous `recv`/`send` calls, through one buffer
 * shared by every connection of the thread (data is never held in it across events).
 *
 * The same contract as {@linkcode splice}: bytes flow both ways until both directions ended;
 * half-close (an EOF becomes `shutdown(SHUT_WR)` on the other side once everything before it is
 * written, and the other direction keeps flowing); any error — a failed call or `EPOLLERR`
 * (e.g. a reset) — closes both at once; never rejects. What a peer cannot take yet is copied out and written when it reports writable,
 * and the direction stops reading meanwhile (the sender is held back by TCP flow control).
 * @module
 */
import type { FdConn } from "../sys/tcp.ts";
import { EPOLLERR, EPOLLHUP, EPOLLRDHUP, READABLE, WRITABLE } from "../sys/reactor.ts";
import type { SpliceResult } from "./splice.ts";

/** The peer shut down or the socket failed: the EOF or error is already queued. */
const CLOSING = EPOLLRDHUP | EPOLLHUP | EPOLLERR;

/** Size of the shared copy buffer (per thread): big reads keep bulk transfers cheap. */
export const RELAY_BUFFER = 1024 * 1024;

/** One direction of a relay. */
interface Direction {
  readonly src: FdConn;
  readonly dst: FdConn;
  /** Bytes read from `src` that `dst` has not taken yet (a copy), or null. */
  pending: Uint8Array | null;
  /** `src` reached EOF. */
  eof: boolean;
  /** `dst`'s write side is shut (EOF passed on). */
  shut: boolean;
  bytes: number;
}

/**
 * Relays `client` ⇄ `upstream` (both of the same reactor) until both directions end or one
 * side fails; resolves with the byte counts once both sockets are closed.
 */
export function relay(client: FdConn, upstream: FdConn, buffer: Uint8Array): Promise<SpliceResult> {
  return new Relay(client, upstream, buffer).done.promise;
}

class Relay {
  readonly done = Promise.withResolvers<SpliceResult>();
  readonly #in: Direction;
  readonly #out: Direction;
  readonly #buf: Uint8Array;
  #finished = false;

  constructor(client: FdConn, upstream: FdConn, buffer: Uint8Array) {
    this.#buf = buffer;
    this.#in = { src: client, dst: upstream, pending: null, eof: false, shut: false, bytes: 0 };
    this.#out = { src: upstream, dst: client, pending: null, eof: false, shut: false, bytes: 0 };
    if (client.closed || upstream.closed) {
      this.#finish();
      return;
    }
    // Data (or an EOF) that arrived before the relay raised its edge already: act on it now.
    const clientMissed = client.attach(this);
    const upstreamMissed = upstream.attach(this);
    if (clientMissed !== 0) this.onConnIo(client, clientMissed);
    if (upstreamMissed !== 0) this.onConnIo(upstream, upstreamMissed);
  }

  onConnIo(conn: FdConn, events: number): void {
    // A socket error (the peer reset the connection, …): abort both sides at once. recv()
    // would report a reset socket as a plain EOF and pass it on as a half-close instead.
    if ((events & EPOLLERR) !== 0) {
      this.#finish();
      return;
    }
    const from = conn === this.#in.src ? this.#in : this.#out;
    const to = from === this.#in ? this.#out : this.#in;
    if ((events & WRITABLE) !== 0 && to.pending !== null) this.#flush(to);
    if ((events & READABLE) !== 0) this.#pump(from, false, (events & CLOSING) !== 0);
  }

  onConnClosed(): void {
    this.#finish();
  }

  /**
   * Reads `d.src` until it would block, writing everything to `d.dst`. A short read ends the
   * turn: the receive queue is empty, and new data raises a new edge. With `closing` (the event
   * said the peer shut down: `EPOLLRDHUP`/`EPOLLHUP`) a short read is the EOF itself: TCP
   * queues the FIN after all the data, so once the queue is empty nothing but the EOF is left,
   * and the `recv` that would return 0 is not made. With `drain` (an edge may have been missed
   * while this direction waited for its receiver) it reads until `EAGAIN` or EOF.
   */
  #pump(d: Direction, drain: boolean, closing = false): void {
    const buf = this.#buf;
    try {
      while (!this.#finished && d.pending === null && !d.eof) {
        const n = d.src.recvNow(buf);
        if (n < 0) return;
        if (n === 0) {
          d.eof = true;
          this.#passEof(d);
          return;
        }
        d.bytes += n;
        let w = 0;
        while (w < n) {
          const m = w === 0 ? d.dst.sendNow(buf, n) : d.dst.sendNow(buf.subarray(w, n));
          if (m < 0) {
            d.pending = buf.slice(w, n);
            return;
          }
          w += m;
        }
        if (n < buf.byteLength && !drain) {
          if (closing) {
            d.eof = true;
            this.#passEof(d);
          }
          return;
        }
      }
    } catch {
      this.#finish();
    }
  }

  /** Writes what `d.dst` could not take before; then resumes reading `d.src`. */
  #flush(d: Direction): void {
    const p = d.pending!;
    let w = 0;
    try {
      while (w < p.byteLength) {
        const m = d.dst.sendNow(w === 0 ? p : p.subarray(w));
        if (m < 0) {
          d.pending = p.subarray(w);
          return;
        }
        w += m;
      }
    } catch {
      this.#finish();
      return;
    }
    d.pending = null;
    if (d.eof) this.#passEof(d);
    else this.#pump(d, true);
  }

  #passEof(d: Direction): void {
    if (d.pending !== null || d.shut) return;
    d.shut = true;
    // The other direction has ended too: close() sends this FIN (one call fewer).
    const other = d === this.#in ? this.#out : this.#in;
    if (other.shut) {
      this.#finish();
      return;
    }
    try {
      d.dst.shutdownWrite();
    } catch {
      this.#finish();
    }
  }

  /** Closes both sockets (ended, failed or closed by their owner) and reports the counts. */
  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#in.src.close();
    this.#in.dst.close();
    this.done.resolve({ bytesIn: this.#in.bytes, bytesOut: this.#out.bytes });
  }
}
