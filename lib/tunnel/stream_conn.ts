// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * An {@linkcode UpstreamConn} over one HTTP/2 stream: reads come from the response body,
 * writes go into the request body. Backpressure flows from HTTP/2 flow control (RFC 9113
 * §5.2) through the streams: `write` resolves only once the request body wants more.
 * @module
 */
import type { UpstreamConn } from "../proxy/dialer.ts";

/** Bytes queued in a request body before `write` waits. */
const WRITE_HIGH_WATER_MARK = 256 * 1024;

/**
 * The writable end of a request body: a pull-driven `ReadableStream` fed by `write`, which
 * waits while the stream's queue is full.
 */
export class BodyWriter {
  /** The request body to hand to `fetch`. */
  readonly stream: ReadableStream<Uint8Array>;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #wake: (() => void) | null = null;
  #closed = false;
  #cancelled = false;

  constructor(highWaterMark: number = WRITE_HIGH_WATER_MARK) {
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.#controller = c;
        },
        pull: () => this.#wakeUp(),
        cancel: () => {
          this.#cancelled = true;
          this.#wakeUp();
        },
      },
      new ByteLengthQueuingStrategy({ highWaterMark }),
    );
  }

  #wakeUp(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  /** Queues a copy of `p` (callers reuse buffers) and waits while the queue is full. */
  async write(p: Uint8Array): Promise<number> {
    if (this.#closed || this.#cancelled) {
      throw new Deno.errors.BrokenPipe("Cannot write to tunnel stream: it is closed");
    }
    if (p.length === 0) return 0;
    this.#controller.enqueue(p.slice());
    while ((this.#controller.desiredSize ?? 1) <= 0 && !this.#cancelled && !this.#closed) {
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    if (this.#cancelled) {
      throw new Deno.errors.BrokenPipe("Cannot write to tunnel stream: the peer reset it");
    }
    return p.length;
  }

  /** Ends the body (HTTP/2 END_STREAM): the half-close. Idempotent. */
  close(): void {
    if (this.#closed || this.#cancelled) return;
    this.#closed = true;
    this.#controller.close();
    this.#wakeUp();
  }

  /** Errors the body (the stream is reset). Idempotent. */
  abort(reason: unknown): void {
    if (this.#closed || this.#cancelled) return;
    this.#closed = true;
    this.#controller.error(reason);
    this.#wakeUp();
  }
}

/**
 * Reads a byte stream into caller buffers, keeping what did not fit for the next read.
 */
export class ChunkReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #leftover: Uint8Array | null = null;
  #eof = false;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  /** Whether EOF was returned. */
  get eof(): boolean {
    return this.#eof;
  }

  /** Like `Deno.Conn.read`: the byte count, or null at EOF. */
  async read(p: Uint8Array): Promise<number | null> {
    if (p.length === 0) return 0;
    let chunk = this.#leftover;
    this.#leftover = null;
    while (chunk === null || chunk.length === 0) {
      if (this.#eof) return null;
      const r = await this.#reader.read();
      if (r.done) {
        this.#eof = true;
        return null;
      }
      chunk = r.value;
    }
    if (chunk.length > p.length) {
      p.set(chunk.subarray(0, p.length));
      this.#leftover = chunk.subarray(p.length);
      return p.length;
    }
    p.set(chunk);
    return chunk.length;
  }

  /** Stops reading; pending reads reject. */
  cancel(reason?: unknown): void {
    this.#leftover = null;
    this.#reader.cancel(reason).catch(() => {});
  }
}

/** Hooks of a {@linkcode StreamConn} for accounting. */
export interface StreamConnHooks {
  /** Bytes read from the peer (`in`) or written to it (`out`). */
  onBytes?(direction: "in" | "out", n: number): void;
  /** Called once, when the stream is finished (closed, or EOF both ways). */
  onDone?(): void;
}

/** The client side of one tunnel stream as an {@linkcode UpstreamConn}. */
export class StreamConn implements UpstreamConn {
  readonly #reader: ChunkReader;
  readonly #body: BodyWriter;
  readonly #abort: AbortController;
  readonly #hooks: StreamConnHooks;
  #writeClosed = false;
  #closed = false;
  #done = false;

  constructor(
    response: ReadableStream<Uint8Array>,
    body: BodyWriter,
    abort: AbortController,
    hooks: StreamConnHooks = {},
  ) {
    this.#reader = new ChunkReader(response);
    this.#body = body;
    this.#abort = abort;
    this.#hooks = hooks;
  }

  async read(p: Uint8Array): Promise<number | null> {
    if (this.#closed) throw new Deno.errors.BadResource("Cannot read tunnel stream: it is closed");
    const n = await this.#reader.read(p);
    if (n === null) {
      if (this.#writeClosed) this.#finish();
    } else if (n > 0) this.#hooks.onBytes?.("in", n);
    return n;
  }

  async write(p: Uint8Array): Promise<number> {
    if (this.#writeClosed || this.#closed) {
      throw new Deno.errors.BrokenPipe("Cannot write to tunnel stream: it is closed for writing");
    }
    const n = await this.#body.write(p);
    this.#hooks.onBytes?.("out", n);
    return n;
  }

  closeWrite(): Promise<void> {
    if (!this.#writeClosed) {
      this.#writeClosed = true;
      this.#body.close();
      if (this.#reader.eof) this.#finish();
    }
    return Promise.resolve();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#writeClosed = true;
    this.#body.abort(new Deno.errors.ConnectionReset("Tunnel stream closed"));
    this.#reader.cancel();
    this.#abort.abort();
    this.#finish();
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.#hooks.onDone?.();
  }
}
