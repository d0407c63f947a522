// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The framing inside a tunnel stream's bodies (both directions): `DATA`, `CREDIT` and `FIN`.
 *
 * Why frames at all: Deno's HTTP/2 stack cannot be told to make the connection window larger
 * than the stream window (hyper uses 1 MiB for both on the server side), so one stream whose
 * data is left unread holds the whole connection window and stalls every other stream (the
 * head-of-line blocking HTTP/2 flow control, RFC 9113 §5.2, is meant to prevent). So each side
 * always reads the HTTP/2 body at once, and flow control is done per stream here instead:
 * a sender sends `DATA` only within the credit its peer granted (`CREDIT`), and half-close
 * is an in-band `FIN`, so credit can still flow back after one direction has ended.
 *
 * Frame: 1 byte type, 4 bytes big-endian value; `DATA` is followed by `value` payload bytes.
 * @module
 */

/** Frame types. */
export const FRAME = { data: 0, credit: 1, fin: 2 } as const;

/** Bytes of a frame header. */
export const FRAME_HEADER_BYTES = 5;

/** Largest `DATA` payload a sender puts in one frame. */
export const MAX_DATA_FRAME = 64 * 1024;

/** A decoded frame; `DATA` payloads are views into the received chunks. */
export type Frame =
  | { readonly type: "data"; readonly payload: Uint8Array }
  | { readonly type: "credit"; readonly bytes: number }
  | { readonly type: "fin" };

/** Encodes a `DATA` frame (copying `payload`, which callers may reuse). */
export function encodeData(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
  out[0] = FRAME.data;
  new DataView(out.buffer).setUint32(1, payload.length);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

/** Encodes a `CREDIT` frame granting `bytes` more. */
export function encodeCredit(bytes: number): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES);
  out[0] = FRAME.credit;
  new DataView(out.buffer).setUint32(1, bytes);
  return out;
}

/** Encodes the `FIN` frame (no more `DATA` in this direction). */
export function encodeFin(): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES);
  out[0] = FRAME.fin;
  return out;
}

/** Thrown for a frame the peer must not have sent. */
export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FrameError";
  }
}

/**
 * Incremental decoder: feed it chunks as they arrive (frames may span chunk boundaries);
 * large `DATA` frames come out as several `data` frames, without copying.
 */
export class FrameDecoder {
  readonly #header = new Uint8Array(FRAME_HEADER_BYTES);
  #headerFill = 0;
  /** Payload bytes still to come of the current `DATA` frame. */
  #dataLeft = 0;

  /** Whether the decoder is between frames (a clean place for the body to end). */
  get idle(): boolean {
    return this.#headerFill === 0 && this.#dataLeft === 0;
  }

  /**
   * Decodes what `chunk` completes.
   * @throws {FrameError} on an unknown frame type
   */
  push(chunk: Uint8Array): Frame[] {
    const out: Frame[] = [];
    let off = 0;
    while (off < chunk.length) {
      if (this.#dataLeft > 0) {
        const n = Math.min(this.#dataLeft, chunk.length - off);
        out.push({ type: "data", payload: chunk.subarray(off, off + n) });
        this.#dataLeft -= n;
        off += n;
        continue;
      }
      const n = Math.min(FRAME_HEADER_BYTES - this.#headerFill, chunk.length - off);
      this.#header.set(chunk.subarray(off, off + n), this.#headerFill);
      this.#headerFill += n;
      off += n;
      if (this.#headerFill < FRAME_HEADER_BYTES) break;
      this.#headerFill = 0;
      const value = new DataView(this.#header.buffer).getUint32(1);
      switch (this.#header[0]) {
        case FRAME.data:
          this.#dataLeft = value;
          break;
        case FRAME.credit:
          out.push({ type: "credit", bytes: value });
          break;
        case FRAME.fin:
          out.push({ type: "fin" });
          break;
        default:
          throw new FrameError(`Cannot decode tunnel frame: unknown type ${this.#header[0]}`);
      }
    }
    return out;
  }
}
