// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Copying between two {@linkcode FdConn}s of the epoll engine without promises: each
 * readiness event moves what it can with synchronous `recv`/`send` calls, through one buffer
 * shared by every connection of the thread (data is never held in it across events).
 *
 * The same contract as {@linkcode splice}: bytes flow both ways until both directions ended;
 * half-close (an EOF becomes `shutdown(SHUT_WR)` on the other side once everything before it is
 * written, and the other direction keeps flowing); any error — a failed call or `EPOLLERR`
 * (a reset, `ETIMEDOUT`) — or a side closed by its owner (drain expiry, shutdown) resets both
 * at once (RST: the other side sees an abort, not the FIN of a complete transfer); never
 * rejects. What a peer cannot take yet is copied out and written when it reports writable,
 * and the direction stops reading meanwhile (the sender is held back by TCP flow control).
 * @module
 */
import type { FdConn } from "../sys/tcp.ts";
import { EPOLLERR, EPOLLHUP, EPOLLRDHUP, READABLE, WRITABLE } from "../sys/reactor.ts";
import type { SpliceResult } from "./splice.ts";

/** The peer shut down or the socket failed: the EOF or error is already queued. */
const CLOSING = EPOLLRDHUP | EPOLLHUP | EPOLLERR;

/** Size of the shared copy buffer (per thread): big reads keep a lone bulk transfer cheap. */
export const RELAY_BUFFER = 1024 * 1024;
/** The most one read takes while another connection of the thread moves bulk data too. */
export const RELAY_SHARED_READ = 32 * 1024;

/**
 * The copy buffer of one thread, shared by all its relays, and how many relay directions of
 * the thread are moving bulk data now (their last read took at least
 * {@linkcode RELAY_SHARED_READ} bytes).
 *
 * Why two read sizes: a bulk transfer alone on its thread is limited by that thread's CPU, and
 * 1 MiB reads make the fewest system calls (one iperf3 stream: 1.25–1.30× HAProxy, against
 * 1.10× with 256 KiB reads). With several bulk transfers the machine's CPU is the limit, and
 * smaller reads interleave the connections (no one holds the thread for a whole megabyte while
 * the others wait) and keep the copied bytes in the core's cache: 8 iperf3 streams needed ~5 %
 * less CPU per byte with 256 KiB than with 1 MiB (micro-benchmark), and 32 KiB did better again
 * in full `make bench` scenario-1 runs (8 streams 1.03×, 1.03×, 1.00× HAProxy against 0.97×,
 * 0.97×, 0.99× with 256 KiB; 64 KiB 0.95×, 0.98×; 16 KiB 0.99×: `bench/README.md`), as nginx's
 * 16 KiB stream buffers beat both there. The single stream keeps its 1 MiB reads.
 */
export class RelayBuffer {
  /** The whole buffer: the read of a direction that moves bulk data alone. */
  readonly full: Uint8Array;
  /** Its first `sharedRead` bytes: the read of every other direction. */
  readonly shared: Uint8Array;
  /** Directions of the thread whose last read took at least `shared.byteLength` bytes. */
  bulk = 0;

  /** @throws {RangeError} unless `0 < sharedRead <= size` */
  constructor(size: number = RELAY_BUFFER, sharedRead: number = RELAY_SHARED_READ) {
    if (!(sharedRead > 0 && sharedRead <= size)) {
      throw new RangeError(`Cannot share reads of ${sharedRead} bytes of a ${size}-byte buffer`);
    }
    this.full = new Uint8Array(size);
    this.shared = this.full.subarray(0, sharedRead);
  }
}

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
  /** Counted in {@linkcode RelayBuffer.bulk}: the last read took a shared read's worth. */
  bulk: boolean;
}

/** A direction `src` → `dst` that has moved nothing yet. */
function direction(src: FdConn, dst: FdConn): Direction {
  return { src, dst, pending: null, eof: false, shut: false, bytes: 0, bulk: false };
}

/**
 * Relays `client` ⇄ `upstream` (both of the same reactor) until both directions end or one
 * side fails; resolves with the byte counts once both sockets are closed.
 */
export function relay(
  client: FdConn,
  upstream: FdConn,
  buffer: RelayBuffer,
): Promise<SpliceResult> {
  return new Relay(client, upstream, buffer).done.promise;
}

class Relay {
  readonly done = Promise.withResolvers<SpliceResult>();
  readonly #in: Direction;
  readonly #out: Direction;
  readonly #buf: RelayBuffer;
  #finished = false;

  constructor(client: FdConn, upstream: FdConn, buffer: RelayBuffer) {
    this.#buf = buffer;
    this.#in = direction(client, upstream);
    this.#out = direction(upstream, client);
    if (client.closed || upstream.closed) {
      this.#finish(true);
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
      this.#finish(true);
      return;
    }
    const from = conn === this.#in.src ? this.#in : this.#out;
    const to = from === this.#in ? this.#out : this.#in;
    if ((events & WRITABLE) !== 0 && to.pending !== null) this.#flush(to);
    if ((events & READABLE) !== 0) this.#pump(from, false, (events & CLOSING) !== 0);
  }

  /** Its owner closed a side (drain expiry, shutdown): an abort, the other side is reset. */
  onConnClosed(): void {
    this.#finish(true);
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
    const rb = this.#buf;
    try {
      while (!this.#finished && d.pending === null && !d.eof) {
        // The whole buffer only while no other direction of the thread moves bulk data.
        const buf = rb.bulk === (d.bulk ? 1 : 0) ? rb.full : rb.shared;
        const n = d.src.recvNow(buf);
        this.#setBulk(d, n >= rb.shared.byteLength);
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
            this.#setBulk(d, false);
            this.#passEof(d);
          }
          return;
        }
      }
    } catch {
      this.#finish(true);
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
      this.#finish(true);
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
      this.#finish(true);
    }
  }

  /** Counts `d` in (or out of) the thread's bulk directions. */
  #setBulk(d: Direction, bulk: boolean): void {
    if (d.bulk === bulk) return;
    d.bulk = bulk;
    this.#buf.bulk += bulk ? 1 : -1;
  }

  /**
   * Closes both sockets and reports the counts: with FIN once both directions ended, with RST
   * (`abort`) when a side failed or was closed by its owner. Why reset at once, without first
   * flushing what the endpoint sent before its error: an RST discards the client socket's
   * unsent data anyway, so a flush would mean waiting for the client to take it (held up by a
   * slow or stalled client) — real proxies reset on an upstream error too, and a transfer cut
   * short is lost either way; what counts is that the client learns it was cut.
   */
  #finish(abort: boolean = false): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#setBulk(this.#in, false);
    this.#setBulk(this.#out, false);
    if (abort) {
      this.#in.src.reset();
      this.#in.dst.reset();
    } else {
      this.#in.src.close();
      this.#in.dst.close();
    }
    this.done.resolve({ bytesIn: this.#in.bytes, bytesOut: this.#out.bytes });
  }
}
