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
}

/** A duplex byte stream over two HTTP/2 bodies with credit-based flow control. */
export class FramedChannel implements UpstreamConn {
  /** The body to send: a request body (dialer) or a response body (server). */
  readonly outgoing: ReadableStream<Uint8Array>;
  /** Hooks; may be set after construction (the dialer sets them once the peer accepted). */
  hooks: ChannelHooks;
  readonly #window: number;
  readonly #endAfterIncoming: boolean;
  #incomingEnded = false;
  #out!: ReadableStreamDefaultController<Uint8Array>;
  #outEnded = false;
  #reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  #sendCredit: number;
  readonly #recv: Uint8Array[] = [];
  #recvBytes = 0;
  #ungranted = 0;
  #sentFin = false;
  #recvFin = false;
  #error: Error | null = null;
  #closed = false;
  #done = false;
  #event = Promise.withResolvers<void>();

  constructor(
    window: number = STREAM_WINDOW,
    hooks: ChannelHooks = {},
    options: ChannelOptions = {},
  ) {
    this.#window = window;
    this.#endAfterIncoming = options.endAfterIncoming ?? false;
    this.#sendCredit = window;
    this.hooks = hooks;
    this.outgoing = new ReadableStream<Uint8Array>({
      start: (c) => {
        this.#out = c;
      },
      cancel: () => {
        this.#outEnded = true;
        this.#fail(new Deno.errors.ConnectionReset("Tunnel stream reset by the peer"));
      },
    });
  }

  /** Starts reading the peer's body; every byte is read at once (credit bounds it). */
  attach(incoming: ReadableStream<Uint8Array>): void {
    const reader = incoming.getReader();
    this.#reader = reader;
    this.#pump(reader);
  }

  async #pump(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    const decoder = new FrameDecoder();
    try {
      while (true) {
        const r = await reader.read();
        if (r.done) {
          if (!this.#recvFin) {
            throw new Deno.errors.ConnectionReset("Tunnel stream ended without FIN");
          }
          this.#incomingEnded = true;
          this.#maybeEnd();
          return;
        }
        for (const f of decoder.push(r.value)) this.#onFrame(f);
      }
    } catch (err) {
      this.#fail(err instanceof Error ? err : new Error(String(err)));
    }
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
    this.#wake();
  }

  #wake(): void {
    this.#event.resolve();
    this.#event = Promise.withResolvers<void>();
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
      await this.#event.promise;
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
      this.#out.enqueue(encodeCredit(this.#ungranted));
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
        await this.#event.promise;
        continue;
      }
      const n = Math.min(this.#sendCredit, MAX_DATA_FRAME, p.length - off);
      this.#out.enqueue(encodeData(p.subarray(off, off + n)));
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
      this.#out.enqueue(encodeFin());
      this.#maybeEnd();
    }
    return Promise.resolve();
  }

  /** Ends the outgoing body once both directions have sent FIN (and, if asked, the incoming body ended). */
  #maybeEnd(): void {
    if (!this.#sentFin || !this.#recvFin || this.#outEnded) return;
    if (this.#endAfterIncoming && !this.#incomingEnded) return;
    this.#outEnded = true;
    this.#out.close();
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
        this.#out.error(reason);
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
