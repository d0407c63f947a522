// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Byte cursors of the DNS codec: a bounds-checked reader over a received message and a
 * growable writer for one being built. Integers are big-endian ("network order", RFC 1035
 * §2.3.2).
 * @module
 */

/**
 * A decoding failure inside the codec; `message.ts` reports it as a `DnsFormatError`
 * (`Cannot decode DNS message: <message>`) with the header's ID.
 */
export class WireError extends SyntaxError {
  constructor(message: string) {
    super(message);
    this.name = "WireError";
  }
}

/** Reads a message front to back; `pos` is the next unread octet. */
export class WireReader {
  /** The message alone (offset 0 is its first header octet: compression pointers count from there). */
  readonly bytes: Uint8Array;
  pos: number;

  constructor(bytes: Uint8Array, pos = 0) {
    this.bytes = bytes;
    this.pos = pos;
  }

  /** Throws unless `n` more octets are there before `end`, naming `what` was being read. */
  need(n: number, what: string, end = this.bytes.length): void {
    if (this.pos + n > end) {
      throw new WireError(`${what} at offset ${this.pos} runs past the end`);
    }
  }

  u8(): number {
    return this.bytes[this.pos++]!;
  }

  u16(): number {
    const b = this.bytes;
    const v = (b[this.pos]! << 8) | b[this.pos + 1]!;
    this.pos += 2;
    return v;
  }

  u32(): number {
    const b = this.bytes;
    const p = this.pos;
    this.pos += 4;
    return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
  }

  /** A copy of the next `n` octets (the caller's buffer may be reused after decoding). */
  copy(n: number): Uint8Array {
    const out = this.bytes.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

/** Appends to a buffer that grows as needed; {@linkcode WireWriter.finish} returns the bytes. */
export class WireWriter {
  #buf: Uint8Array;
  /** Octets written so far (the next write goes here). */
  length = 0;

  constructor(capacity = 512) {
    this.#buf = new Uint8Array(capacity);
  }

  /** Makes room for `n` more octets. */
  reserve(n: number): void {
    const want = this.length + n;
    if (want <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < want) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.length));
    this.#buf = next;
  }

  u8(v: number): void {
    this.reserve(1);
    this.#buf[this.length++] = v;
  }

  u16(v: number): void {
    this.reserve(2);
    this.#buf[this.length++] = v >>> 8;
    this.#buf[this.length++] = v & 0xff;
  }

  u32(v: number): void {
    this.reserve(4);
    const b = this.#buf;
    b[this.length++] = v >>> 24;
    b[this.length++] = (v >>> 16) & 0xff;
    b[this.length++] = (v >>> 8) & 0xff;
    b[this.length++] = v & 0xff;
  }

  bytes(data: Uint8Array): void {
    this.reserve(data.length);
    this.#buf.set(data, this.length);
    this.length += data.length;
  }

  /** Overwrites the octet at `at` (a label length written before its label). */
  patchU8(at: number, v: number): void {
    this.#buf[at] = v;
  }

  /** Overwrites the 16-bit value at `at` (a length field written before its data). */
  patchU16(at: number, v: number): void {
    this.#buf[at] = v >>> 8;
    this.#buf[at + 1] = v & 0xff;
  }

  /** The bytes written, as a new array of exactly that length. */
  finish(): Uint8Array {
    return this.#buf.slice(0, this.length);
  }
}

/**
 * Throws a RangeError (`Cannot encode DNS message: <what> is <v>, out of range 0-<max>`) unless
 * `v` is an integer in 0…`max` (the field is that wide on the wire).
 */
export function checkUint(v: number, max: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > max) {
    throw new RangeError(`Cannot encode DNS message: ${what} is ${v}, out of range 0-${max}`);
  }
}
