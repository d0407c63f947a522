// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * A minimal DNS A-query encoder and answer decoder (RFC 1035 §4), so the harness can find
 * service VIPs without depending on the agent's own codec. Pure.
 * @module
 */

/** Encodes a recursive A/IN query for `name` with message ID `id`. */
export function encodeAQuery(id: number, name: string): Uint8Array {
  const labels = name.replace(/\.$/, "").split(".").filter((l) => l.length > 0);
  const size = 12 + labels.reduce((n, l) => n + 1 + l.length, 0) + 1 + 4;
  const buf = new Uint8Array(size);
  const view = new DataView(buf.buffer);
  view.setUint16(0, id & 0xffff);
  view.setUint16(2, 0x0100); // RD
  view.setUint16(4, 1); // QDCOUNT
  let off = 12;
  for (const label of labels) {
    if (label.length > 63) throw new RangeError(`Cannot encode "${name}": label longer than 63`);
    buf[off++] = label.length;
    for (let i = 0; i < label.length; i++) buf[off++] = label.charCodeAt(i);
  }
  buf[off++] = 0;
  view.setUint16(off, 1); // A
  view.setUint16(off + 2, 1); // IN
  return buf;
}

/** The parts of a response the harness needs. */
export interface AAnswer {
  readonly id: number;
  readonly rcode: number;
  /** IPv4 addresses of the A records in the answer section. */
  readonly addresses: readonly string[];
}

function skipName(buf: Uint8Array, off: number): number {
  for (let hops = 0; hops < 128; hops++) {
    const len = buf[off];
    if (len === undefined) throw new SyntaxError("Cannot decode DNS name: truncated");
    if (len === 0) return off + 1;
    if ((len & 0xc0) === 0xc0) return off + 2;
    off += 1 + len;
  }
  throw new SyntaxError("Cannot decode DNS name: too many labels");
}

/**
 * Decodes a response, collecting its A records.
 * @throws {SyntaxError} when the message is truncated
 */
export function decodeAAnswer(buf: Uint8Array): AAnswer {
  if (buf.length < 12) throw new SyntaxError("Cannot decode DNS message: shorter than a header");
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const id = view.getUint16(0);
  const rcode = view.getUint16(2) & 0x000f;
  const qd = view.getUint16(4);
  const an = view.getUint16(6);
  let off = 12;
  for (let i = 0; i < qd; i++) off = skipName(buf, off) + 4;
  const addresses: string[] = [];
  for (let i = 0; i < an; i++) {
    off = skipName(buf, off);
    if (off + 10 > buf.length) throw new SyntaxError("Cannot decode DNS answer: truncated");
    const type = view.getUint16(off);
    const rdlen = view.getUint16(off + 8);
    off += 10;
    if (off + rdlen > buf.length) {
      throw new SyntaxError("Cannot decode DNS answer: truncated rdata");
    }
    if (type === 1 && rdlen === 4) addresses.push(Array.from(buf.subarray(off, off + 4)).join("."));
    off += rdlen;
  }
  return { id, rcode, addresses };
}
