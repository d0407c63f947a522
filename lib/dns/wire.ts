// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Hand-written byte-level helpers for the hot path: parsing the common query (one question,
 * QUERY opcode, optional EDNS0 OPT) without allocating, and writing header-only and A answers
 * into a caller's buffer. Upstream answers are scanned in `scan.ts`.
 *
 * Everything here works on wire bytes (RFC 1035 §4.1) and never throws on hostile input:
 * functions return `false`/`null`/`0` when the bytes are not the simple case, and the caller
 * falls back to the full codec in `message.ts`.
 * @module
 */
/** Header flag bits (RFC 1035 §4.1.1). */
export const Flag = {
  QR: 0x8000,
  AA: 0x0400,
  TC: 0x0200,
  RD: 0x0100,
  RA: 0x0080,
  AD: 0x0020,
  CD: 0x0010,
} as const;

/** OPT record type (RFC 6891). */
export const OPT = 41;
/** EDNS DO bit in the OPT TTL field's flags. */
export const DO_BIT = 0x8000;
/** The UDP payload size we advertise in our OPT (DNS flag day 2020 recommendation). */
export const OUR_UDP_PAYLOAD = 1232;
/** Largest UDP answer we produce even when a client advertises more. */
export const MAX_UDP_PAYLOAD = 4096;
/** Size of our OPT record: root name, type, class, TTL, RDLENGTH 0. */
export const OPT_SIZE = 11;

/** FNV-1a offset basis and prime (32-bit). */
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** ASCII lowercase of one byte (DNS names compare case-insensitively in ASCII only, RFC 4343). */
export function lowerByte(c: number): number {
  return c >= 65 && c <= 90 ? c | 0x20 : c;
}

/** Continues an FNV-1a hash with one byte. */
export function fnvStep(h: number, c: number): number {
  return Math.imul(h ^ c, FNV_PRIME) >>> 0;
}

/**
 * Folds a 32-bit hash into V8's small-integer range (30 bits), so storing it and using it as a
 * `Map` key does not allocate a heap number per packet.
 */
export function smallHash(h: number): number {
  return (h ^ (h >>> 30)) & 0x3fffffff;
}

/** FNV-1a of lowercased wire-format bytes; the key of the fast-path index. */
export function hashWire(wire: Uint8Array): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < wire.length; i++) h = fnvStep(h, lowerByte(wire[i]!));
  return smallHash(h);
}

/**
 * Lowercased wire format of a dotted name (no compression), e.g. `a.b` → `\x01a\x01b\x00`.
 * @throws {RangeError} when a label is empty or longer than 63 octets, or the name exceeds 255
 */
export function nameToWire(name: string): Uint8Array {
  const n = name.endsWith(".") ? name.slice(0, -1) : name;
  if (n === "") return new Uint8Array([0]);
  // Zone builds call this for every name of every service: the common all-ASCII case is
  // written straight into one array (a length octet per label, RFC 1035 §3.1), lowercased.
  const out = new Uint8Array(n.length + 2);
  let labelStart = 0;
  for (let i = 0; i <= n.length; i++) {
    const c = i < n.length ? n.charCodeAt(i) : 0x2e;
    if (c > 0x7f) return nameToWireSlow(name, n);
    if (c === 0x2e) {
      const len = i - labelStart;
      if (len === 0 || len > 63) {
        const label = n.slice(labelStart, i);
        throw new RangeError(`Cannot encode name "${name}": label "${label}" has a bad length`);
      }
      out[labelStart] = len;
      labelStart = i + 1;
    } else {
      out[i + 1] = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
    }
  }
  if (out.length > 255) throw new RangeError(`Cannot encode name "${name}": longer than 255`);
  return out;
}

function nameToWireSlow(name: string, n: string): Uint8Array {
  const labels = n.toLowerCase().split(".");
  const bytes: number[] = [];
  const enc = new TextEncoder();
  for (const label of labels) {
    const b = enc.encode(label);
    if (b.length === 0 || b.length > 63) {
      throw new RangeError(`Cannot encode name "${name}": label "${label}" has a bad length`);
    }
    bytes.push(b.length, ...b);
  }
  bytes.push(0);
  if (bytes.length > 255) throw new RangeError(`Cannot encode name "${name}": longer than 255`);
  return new Uint8Array(bytes);
}

/**
 * Mutable parse state of the fast path, reused across packets so parsing allocates nothing.
 * Valid only after {@linkcode parseFastQuery} returned true.
 */
export class FastQuery {
  id = 0;
  flags = 0;
  /** {@linkcode hashWire} of the question name. */
  hash = 0;
  /** Offset just past the question name's terminating zero. */
  nameEnd = 0;
  qtype = 0;
  qclass = 0;
  /** Offset just past the question (QTYPE and QCLASS). */
  questionEnd = 0;
  edns = false;
  udpPayloadSize = 0;
  /** The OPT TTL field's low 16 bits (DO bit). */
  ednsFlags = 0;
}

/** The big-endian 16-bit integer at `o`. */
export function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

/**
 * Parses the common query shape: QR=0, opcode QUERY, QDCOUNT=1, no answer or authority records,
 * at most one additional record which is an EDNS version 0 OPT, no name compression, nothing
 * after the last record. Returns false for anything else (the slow path decides).
 */
export function parseFastQuery(buf: Uint8Array, len: number, q: FastQuery): boolean {
  if (len < 17 || len > buf.length) return false;
  const flags = u16(buf, 2);
  if ((flags & 0xf800) !== 0) return false; // QR=1 or opcode != QUERY
  if (
    buf[4] !== 0 || buf[5] !== 1 || buf[6] !== 0 || buf[7] !== 0 || buf[8] !== 0 || buf[9] !== 0
  ) {
    return false;
  }
  const ar = u16(buf, 10);
  if (ar > 1) return false;
  let o = 12;
  let h = FNV_OFFSET;
  for (;;) {
    if (o >= len) return false;
    const l = buf[o]!;
    h = fnvStep(h, l);
    o++;
    if (l === 0) break;
    if (l > 63) return false; // pointers and reserved label types
    if (o + l > len || o - 12 + l > 254) return false;
    for (let i = 0; i < l; i++) h = fnvStep(h, lowerByte(buf[o + i]!));
    o += l;
  }
  if (o + 4 > len) return false;
  q.id = u16(buf, 0);
  q.flags = flags;
  q.hash = smallHash(h);
  q.nameEnd = o;
  q.qtype = u16(buf, o);
  q.qclass = u16(buf, o + 2);
  o += 4;
  q.questionEnd = o;
  q.edns = false;
  if (ar === 0) return o === len;
  // OPT: root owner (1) + type (2) + class=payload (2) + ext rcode (1) + version (1) + flags (2)
  // + rdlength (2)
  if (o + OPT_SIZE > len || buf[o] !== 0 || u16(buf, o + 1) !== OPT) return false;
  if (buf[o + 6] !== 0) return false; // EDNS version > 0 → BADVERS on the slow path
  const rdlen = u16(buf, o + 9);
  if (o + OPT_SIZE + rdlen !== len) return false;
  q.edns = true;
  q.udpPayloadSize = u16(buf, o + 3);
  q.ednsFlags = u16(buf, o + 7);
  return true;
}

/** Case-insensitive comparison of `len` bytes of `a` at `ao` with lowercased `b`. */
export function equalsLowered(a: Uint8Array, ao: number, b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) {
    if (lowerByte(a[ao + i]!) !== b[i]) return false;
  }
  return true;
}

/** The UDP size limit for an answer: 512 without EDNS, else the advertised size (512–4096). */
export function udpLimit(edns: boolean, advertised: number): number {
  if (!edns) return 512;
  return Math.min(MAX_UDP_PAYLOAD, Math.max(512, advertised));
}

/** Writes our OPT record at `o`, copying the DO bit; returns the new offset. */
export function writeOpt(out: Uint8Array, o: number, dnssecOk: boolean, extRcode = 0): number {
  out[o] = 0;
  out[o + 1] = 0;
  out[o + 2] = OPT;
  out[o + 3] = OUR_UDP_PAYLOAD >> 8;
  out[o + 4] = OUR_UDP_PAYLOAD & 0xff;
  out[o + 5] = extRcode;
  out[o + 6] = 0;
  out[o + 7] = dnssecOk ? 0x80 : 0;
  out[o + 8] = 0;
  out[o + 9] = 0;
  out[o + 10] = 0;
  return o + OPT_SIZE;
}

/**
 * Writes a whole fast answer: header, the query's question bytes, the precomputed answer RRs
 * (owner names are pointers to offset 12) and our OPT when the query had one. Returns the
 * length, or 0 when it would not fit `limit` (the slow path then truncates).
 */
export function writeFastAnswer(
  out: Uint8Array,
  query: Uint8Array,
  q: FastQuery,
  answer: Uint8Array,
  count: number,
  recursionAvailable: boolean,
  limit: number,
): number {
  const qlen = q.questionEnd;
  const total = qlen + answer.length + (q.edns ? OPT_SIZE : 0);
  if (total > limit || total > out.length) return 0;
  const flags = Flag.QR | Flag.AA | (q.flags & (Flag.RD | Flag.CD)) |
    (recursionAvailable ? Flag.RA : 0);
  out[0] = q.id >> 8;
  out[1] = q.id & 0xff;
  out[2] = flags >> 8;
  out[3] = flags & 0xff;
  out[4] = 0;
  out[5] = 1;
  out[6] = count >> 8;
  out[7] = count & 0xff;
  out[8] = 0;
  out[9] = 0;
  out[10] = 0;
  out[11] = q.edns ? 1 : 0;
  // Byte loops, not `set(subarray)`: no view object per packet for a few dozen bytes.
  for (let i = 12; i < qlen; i++) out[i] = query[i]!;
  for (let i = 0; i < answer.length; i++) out[qlen + i] = answer[i]!;
  if (q.edns) writeOpt(out, qlen + answer.length, (q.ednsFlags & DO_BIT) !== 0);
  return total;
}

/**
 * Bytes of A records owned by the question name (pointer 0xC00C) for a fast answer.
 * @param ips dotted-quad IPv4 addresses
 */
export function buildAnswerA(ips: readonly string[], ttl: number): Uint8Array {
  const out = new Uint8Array(ips.length * 16);
  let o = 0;
  for (const ip of ips) {
    const parts = ip.split(".").map(Number);
    out.set([
      0xc0,
      0x0c,
      0,
      1,
      0,
      1,
      ttl >>> 24,
      (ttl >> 16) & 0xff,
      (ttl >> 8) & 0xff,
      ttl & 0xff,
      0,
      4,
    ], o);
    out.set(parts, o + 12);
    o += 16;
  }
  return out;
}

/**
 * Skips a (possibly compressed) name starting at `o`; returns the offset after it in place, or
 * -1 when malformed. Only the in-place bytes are walked: a pointer ends the name (RFC 1035
 * §4.1.4), so there is no loop to follow.
 */
export function skipName(b: Uint8Array, o: number, end: number): number {
  let total = 0;
  for (;;) {
    if (o >= end) return -1;
    const l = b[o]!;
    if (l === 0) return o + 1;
    if ((l & 0xc0) === 0xc0) return o + 2 <= end ? o + 2 : -1;
    if (l > 63) return -1;
    total += l + 1;
    if (total > 255) return -1;
    o += l + 1;
  }
}

/** RD within header byte 2, CD and RA within header byte 3. */
const RD_BYTE2 = Flag.RD >> 8;
const CD_BYTE3 = Flag.CD;
const RA_BYTE3 = Flag.RA;

/**
 * Makes the header of an answer in `out` (bytes from elsewhere: an upstream, the cache) the
 * querying client's: RD and CD copied from `query` (RFC 1035 §4.1.1: RD "is copied into the
 * response"; RFC 4035 §3.2.2 and RFC 6840 §5.9 for CD), RA set as `recursionAvailable`. A
 * stored answer carries the bits of the client whose query filled the cache, and an upstream
 * need not echo CD at all. Two byte writes; both buffers hold at least a header.
 */
export function setClientFlags(
  out: Uint8Array,
  query: Uint8Array,
  recursionAvailable: boolean,
): void {
  out[2] = (out[2]! & ~RD_BYTE2) | (query[2]! & RD_BYTE2);
  out[3] = (out[3]! & ~(CD_BYTE3 | RA_BYTE3)) | (query[3]! & CD_BYTE3) |
    (recursionAvailable ? RA_BYTE3 : 0);
}

/**
 * A header-only (or header + question) response to a query we cannot or will not answer:
 * FORMERR, NOTIMP, REFUSED, SERVFAIL, or an empty truncated answer. ID, opcode, RD and CD are
 * copied; the question bytes `[12, questionEnd)` are echoed when `questionEnd` > 12.
 */
export function headerResponse(
  query: Uint8Array,
  rcode: number,
  options: {
    readonly questionEnd?: number;
    readonly recursionAvailable?: boolean;
    readonly truncated?: boolean;
    readonly authoritative?: boolean;
    /** Append our OPT (RFC 6891 §7: responders include OPT when the query had one). */
    readonly edns?: { readonly dnssecOk: boolean } | null;
  } = {},
): Uint8Array {
  const qEnd = options.questionEnd !== undefined && options.questionEnd > 12
    ? options.questionEnd
    : 12;
  const ext = rcode >> 4;
  const withOpt = options.edns !== undefined && options.edns !== null;
  const out = new Uint8Array(qEnd + (withOpt ? OPT_SIZE : 0));
  out[0] = query[0] ?? 0;
  out[1] = query[1] ?? 0;
  const qflags = query.length >= 4 ? u16(query, 2) : 0;
  const flags = Flag.QR | (qflags & (0x7800 | Flag.RD | Flag.CD)) |
    (options.recursionAvailable ? Flag.RA : 0) | (options.truncated ? Flag.TC : 0) |
    (options.authoritative ? Flag.AA : 0) | (rcode & 0xf);
  out[2] = flags >> 8;
  out[3] = flags & 0xff;
  if (qEnd > 12) {
    out[5] = 1;
    out.set(query.subarray(12, qEnd), 12);
  }
  if (withOpt) {
    out[11] = 1;
    writeOpt(out, qEnd, options.edns!.dnssecOk, ext);
  }
  return out;
}
