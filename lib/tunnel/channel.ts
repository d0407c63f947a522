// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * One tunnel stream as a byte stream: {@linkcode FramedChannel} turns an incoming HTTP/2 body
 * and an outgoing one into an {@linkcode UpstreamConn} with per-stream credit flow control
 * (see `frames.ts` for why). Both ends of a stream — the dialer's and the server's — use it.
 * @module
 */
import type { UpstreamConn } from "../proxy/dialer.ts";
import {
  encodeCredit,
  encodeData,
  encodeFin,
  type Frame,
  FrameDecoder,
  FrameError,
  MAX_DATA_FRAME,
} from "./frames.ts";

/**
 * Per-stream, per-direction window: the most a sender may have in flight unacknowledged.
 * Part of the wire protocol (`/v1`): both ends assume it, so it is not configurable.
 */
export const STREAM_WINDOW = 512 * 1024;

/** Accounting and transport hooks of a {@linkcode FramedChannel}. */
export interface ChannelHooks {
  /** Payload bytes read (`in`) or written (`out`). */
  onBytes?(direction: "in" | "out", n: number): void;
  /** Once: the stream finished (FIN both ways, closed, or failed). */
  onDone?(): void;
  /** Once, on `close()` or failure: tear the transport down (e.g. abort the fetch). */
  onAbort?(): void;
}

/**
 * Where a channel's outgoing frames go when it does not produce a `ReadableStream` (the
 * dialer writes them into a `node:http2` request). Writes are never refused: the credit
 * window already bounds what a channel can have outstanding.
 */
export interface FrameSink {
  /** Sends bytes (the channel does not reuse `chunk`). */
  write(chunk: Uint8Array): void;
  /** Ends the body normally (after FIN went both ways). */
  end(): void;
}

/** Options of a {@linkcode FramedChannel}. */
export interface ChannelOptions {
  /**
   * End the outgoing body only once the incoming body has ended too (the server's side). An
   * HTTP/2 server whose response completes while the request body is still open resets the
   * stream (RST_STREAM, RFC 9113 §8.1), and the client then drops response data it had not
   * read yet; the dialer ends its request body as soon as FIN went both ways, so the server
   * waiting for that end costs nothing. @default false
   */
  readonly endAfterIncoming?: boolean;
  /**
   * Send outgoing frames here instead of through {@linkcode FramedChannel.outgoing}; on
   * failure or `close()` the transport is torn down through `hooks.onAbort`.
   */
  readonly sink?: FrameSink;
}

/** A duplex byte stream over two HTTP/2 bodies with credit-based flow control. */
export class FramedChannel implements UpstreamConn {
  /** Hooks; may be set after construction (the dialer sets them once the peer accepted). */
  hooks: ChannelHooks;
  readonly #window: number;
  readonly #endAfterIncoming: boolean;
  #incomingEnded = false;
  #sink: FrameSink | null = null;
  #outStream: ReadableStream<Uint8Array> | null = null;
  #out: ReadableStreamDefaultController<Uint8Array> | null = null;
  #outEnded = false;
  #reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  readonly #decoder = new FrameDecoder();
  #sendCredit: number;
  readonly #recv: Uint8Array[] = [];
  #recvBytes = 0;
  #ungranted = 0;
  #sentFin = false;
  #recvFin = false;
  #error: Error | null = null;
  #closed = false;
  #done = false;
  /** Resolves the task waiting in `read()` or `write()` (at most one of each at a time). */
  #waiter: (() => void) | null = null;

  constructor(
    window: number = STREAM_WINDOW,
    hooks: ChannelHooks = {},
    options: ChannelOptions = {},
  ) {
    this.#window = window;
    this.#endAfterIncoming = options.endAfterIncoming ?? false;
    this.#sendCredit = window;
    this.hooks = hooks;
    if (options.sink) {
      this.#sink = options.sink;
    } else {
      this.#outStream = new ReadableStream<Uint8Array>({
        start: (c) => {
          this.#out = c;
        },
        cancel: () => {
          this.#outEnded = true;
          this.#fail(new Deno.errors.ConnectionReset("Tunnel stream reset by the peer"));
        },
      });
    }
  }

  /**
   * The body to send (a response body on the server); only without a `sink`.
   * @throws {TypeError} when the channel was given a sink
   */
  get outgoing(): ReadableStream<Uint8Array> {
    if (this.#outStream === null) {
      throw new TypeError("Cannot get the outgoing body of a tunnel channel that has a sink");
    }
    return this.#outStream;
  }

  #emit(chunk: Uint8Array): void {
    if (this.#sink) this.#sink.write(chunk);
    else this.#out!.enqueue(chunk);
  }

  /** Starts reading the peer's body; every byte is read at once (credit bounds it). */
  attach(incoming: ReadableStream<Uint8Array>): void {
    const reader = incoming.getReader();
    this.#reader = reader;
    this.#pump(reader);
  }

  async #pump(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    try {
      while (true) {
        const r = await reader.read();
        if (r.done) break;
        this.receive(r.value);
      }
      this.receiveEnd();
    } catch (err) {
      this.receiveError(err);
    }
  }

  /** Feeds bytes of the peer's body (push transports; `attach` does this itself). */
  receive(chunk: Uint8Array): void {
    if (this.#error || this.#closed) return;
    try {
      for (const f of this.#decoder.push(chunk)) this.#onFrame(f);
    } catch (err) {
      this.receiveError(err);
      return;
    }
    this.#wake();
  }

  /** The peer's body ended. */
  receiveEnd(): void {
    if (this.#error || this.#closed) return;
    if (!this.#recvFin) {
      this.#fail(new Deno.errors.ConnectionReset("Tunnel stream ended without FIN"));
      return;
    }
    this.#incomingEnded = true;
    this.#maybeEnd();
    this.#wake();
  }

  /** The peer's body failed (stream reset, connection lost). */
  receiveError(err: unknown): void {
    if (this.#incomingEnded) return;
    this.#fail(err instanceof Error ? err : new Error(String(err)));
  }

  #onFrame(f: Frame): void {
    switch (f.type) {
      case "data":
        if (this.#recvFin) throw new FrameError("Cannot accept tunnel data: it came after FIN");
        this.#recvBytes += f.payload.length;
        if (this.#recvBytes > this.#window) {
          throw new FrameError(
            `Cannot accept tunnel data: ${this.#recvBytes} bytes exceed the window of ${this.#window}`,
          );
        }
        this.#recv.push(f.payload);
        break;
      case "credit":
        this.#sendCredit += f.bytes;
        break;
      case "fin":
        this.#recvFin = true;
        this.#maybeEnd();
        break;
    }
  }

  #wake(): void {
    const w = this.#waiter;
    if (w) {
      this.#waiter = null;
      w();
    }
  }

  #wait(): Promise<void> {
    return new Promise<void>((resolve) => {
      const prev = this.#waiter;
      this.#waiter = prev
        ? () => {
          prev();
          resolve();
        }
        : resolve;
    });
  }

  #check(): void {
    if (this.#error) throw this.#error;
    if (this.#closed) throw new Deno.errors.BadResource("Cannot use tunnel stream: it is closed");
  }

  /** Like `Deno.Conn.read`: bytes from the peer, or null after its FIN. */
  async read(p: Uint8Array): Promise<number | null> {
    if (p.length === 0) return 0;
    while (this.#recvBytes === 0) {
      this.#check();
      if (this.#recvFin) return null;
      await this.#wait();
    }
    let n = 0;
    while (n < p.length && this.#recv.length > 0) {
      const head = this.#recv[0]!;
      const take = Math.min(head.length, p.length - n);
      p.set(head.subarray(0, take), n);
      n += take;
      if (take === head.length) this.#recv.shift();
      else this.#recv[0] = head.subarray(take);
    }
    this.#recvBytes -= n;
    this.#ungranted += n;
    // Credit in batches; a sender that ran out has a full window unacknowledged, so this
    // always fires before it could wait forever.
    if (this.#ungranted >= this.#window / 4 && !this.#recvFin && !this.#outEnded) {
      this.#emit(encodeCredit(this.#ungranted));
      this.#ungranted = 0;
    }
    this.hooks.onBytes?.("in", n);
    return n;
  }

  /** Sends all of `p` as `DATA` frames, waiting for credit as needed. */
  async write(p: Uint8Array): Promise<number> {
    let off = 0;
    while (off < p.length) {
      this.#check();
      if (this.#sentFin) {
        throw new Deno.errors.BrokenPipe("Cannot write to tunnel stream: it is closed for writing");
      }
      if (this.#sendCredit <= 0) {
        await this.#wait();
        continue;
      }
      const n = Math.min(this.#sendCredit, MAX_DATA_FRAME, p.length - off);
      this.#emit(encodeData(p.subarray(off, off + n)));
      this.#sendCredit -= n;
      off += n;
      this.hooks.onBytes?.("out", n);
    }
    return p.length;
  }

  /** Half-close: sends FIN; reading continues until the peer's FIN. */
  closeWrite(): Promise<void> {
    if (!this.#sentFin && !this.#closed && !this.#error) {
      this.#sentFin = true;
      this.#emit(encodeFin());
      this.#maybeEnd();
    }
    return Promise.resolve();
  }

  /** Ends the outgoing body once both directions have sent FIN (and, if asked, the incoming body ended). */
  #maybeEnd(): void {
    if (!this.#sentFin || !this.#recvFin || this.#outEnded) return;
    if (this.#endAfterIncoming && !this.#incomingEnded) return;
    this.#outEnded = true;
    if (this.#sink) this.#sink.end();
    else this.#out!.close();
    this.#finish();
  }

  /** Resets the stream (both directions); safe to call more than once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#teardown(new Deno.errors.ConnectionReset("Tunnel stream closed"));
  }

  #fail(err: Error): void {
    if (this.#error || this.#closed) return;
    this.#error = err;
    this.#teardown(err);
  }

  #teardown(reason: Error): void {
    this.#recv.length = 0;
    this.#recvBytes = 0;
    const abortTransport = !this.#outEnded || !this.#recvFin;
    if (!this.#outEnded) {
      this.#outEnded = true;
      try {
        this.#out?.error(reason);
      } catch { /* already closed */ }
    }
    if (abortTransport) {
      this.#reader?.cancel(reason).catch(() => {});
      this.hooks.onAbort?.();
    }
    this.#wake();
    this.#finish();
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.hooks.onDone?.();
  }
}
