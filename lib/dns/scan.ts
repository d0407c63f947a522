// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Scanning (and validating) upstream answers without decoding them ({@linkcode scanMessage}):
 * every name checked as a client's decoder will read it, record data of known types against
 * RDLENGTH, the OPT record's place, and the offsets of the TTL fields the cache rewrites
 * ({@linkcode readTtl}, {@linkcode writeTtl}).
 *
 * Like `wire.ts` it works on wire bytes (RFC 1035 §4.1) and never throws on hostile input: a
 * malformed message gives `null`.
 * @module
 */
import { MAX_NAME_POINTERS } from "./codec/name.ts";
import { Flag, OPT, u16 } from "./wire.ts";

/** What the forwarder needs to know about an upstream answer. */
export interface ScannedMessage {
  readonly id: number;
  readonly flags: number;
  /** Header RCODE (4 bits). */
  readonly rcode: number;
  readonly truncated: boolean;
  readonly questionCount: number;
  /** Offset just past the question section. */
  readonly questionEnd: number;
  readonly answerCount: number;
  /** Offsets of the TTL field of every record except OPT, all sections. */
  readonly ttlOffsets: readonly number[];
  /**
   * Minimum TTL of the answer section ({@linkcode readTtl}: a TTL with the top bit set is 0);
   * Infinity when it is empty.
   */
  readonly minAnswerTtl: number;
  /**
   * min(SOA TTL, SOA MINIMUM) of an SOA in the authority section (RFC 2308 §5; either with the
   * top bit set is 0), or null.
   */
  readonly negativeTtl: number | null;
  /** Start of the OPT record, or -1; only set when OPT is the last record of the message. */
  readonly optOffset: number;
  /** Set when there is an OPT record that is not the last one (then we do not cache). */
  readonly optMisplaced: boolean;
  /** Offset just past the last record (octets after it are not part of the message). */
  readonly end: number;
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) >>> 0) + (b[o + 1]! << 16) + (b[o + 2]! << 8) + b[o + 3]!;
}

/**
 * Checks the (possibly compressed) name at `o` the way a client's decoder will read it, and
 * returns the offset just after it in place, or -1 when it is malformed: octets read in place
 * must lie before `end` (the end of the record data holding the name, or of the message); a
 * label is at most 63 octets (0x40 and 0x80 label types are reserved); the whole name is at
 * most 255 octets (RFC 1035 §2.3.4, root included); every compression pointer points to an
 * earlier name, i.e. past the header and strictly before the labels that led to it
 * (RFC 1035 §4.1.4), so a pointer to itself, forwards, or out of the message, and hence any
 * loop, is rejected; at most {@linkcode MAX_NAME_POINTERS} pointers (a chain of pointers to
 * pointers would otherwise cost a walk of the message per name).
 */
export function checkName(b: Uint8Array, o: number, end: number): number {
  let pos = o;
  let limit = end;
  /** Start of the run of in-place labels being read: pointers must point before it. */
  let segment = o;
  let after = -1;
  let octets = 1;
  let jumps = 0;
  for (;;) {
    if (pos >= limit) return -1;
    const l = b[pos]!;
    if (l === 0) return after < 0 ? pos + 1 : after;
    if ((l & 0xc0) === 0xc0) {
      if (pos + 2 > limit || ++jumps > MAX_NAME_POINTERS) return -1;
      const target = ((l & 0x3f) << 8) | b[pos + 1]!;
      if (target < 12 || target >= segment) return -1;
      if (after < 0) after = pos + 2;
      pos = segment = target;
      limit = b.length;
      continue;
    }
    if (l > 63) return -1;
    octets += l + 1;
    if (octets > 255 || pos + 1 + l > limit) return -1;
    pos += 1 + l;
  }
}

/** Whether `name` at `o` fills the record data up to `end` exactly. */
function nameFills(b: Uint8Array, o: number, end: number): boolean {
  return o < end && checkName(b, o, end) === end;
}

/**
 * Whether the data of a record of `type` at `[o, end)` is what its type says, as a client's
 * decoder reads it: fixed sizes (A, AAAA), names (checked by {@linkcode checkName}) and the
 * fixed fields around them filling RDLENGTH exactly, TXT strings filling it. Types that hold
 * no name or whose layout we do not know are only bounded by RDLENGTH (RFC 3597).
 */
function rdataValid(b: Uint8Array, type: number, o: number, end: number): boolean {
  switch (type) {
    case 1: // A
      return end - o === 4;
    case 28: // AAAA
      return end - o === 16;
    case 2: // NS
    case 3: // MD
    case 4: // MF
    case 5: // CNAME
    case 7: // MB
    case 8: // MG
    case 9: // MR
    case 12: // PTR
    case 39: // DNAME
      return nameFills(b, o, end);
    case 6: { // SOA: MNAME, RNAME, five 32-bit fields
      const r = checkName(b, o, end);
      if (r < 0) return false;
      const s = checkName(b, r, end);
      return s >= 0 && end - s === 20;
    }
    case 14: // MINFO
    case 17: { // RP
      const r = checkName(b, o, end);
      return r >= 0 && nameFills(b, r, end);
    }
    case 15: // MX
    case 18: // AFSDB
    case 21: // RT
    case 36: // KX
      return nameFills(b, o + 2, end);
    case 26: { // PX: preference, MAP822, MAPX400
      const r = o + 2 < end ? checkName(b, o + 2, end) : -1;
      return r >= 0 && nameFills(b, r, end);
    }
    case 33: // SRV
      return nameFills(b, o + 6, end);
    case 16: { // TXT: character-strings filling the data
      let p = o;
      while (p < end) p += 1 + b[p]!;
      return p === end;
    }
    case 46: // RRSIG: 18 octets, signer's name, signature
      return o + 18 < end && checkName(b, o + 18, end) >= 0;
    case 47: // NSEC: next name, type bitmaps
      return checkName(b, o, end) >= 0;
    default:
      return true;
  }
}

/**
 * Walks a message's records without decoding them, validating what a client's decoder would
 * trip over; null when malformed: a name in any section (owner or record data) that
 * {@linkcode checkName} rejects, a question or record running past the end (so counts larger
 * than the records there are), record data of a known type that does not fill RDLENGTH
 * exactly ({@linkcode rdataValid}), an OPT outside the additional section, twice, or not owned
 * by the root. Octets after the last counted record are not part of the message (`end`).
 */
export function scanMessage(b: Uint8Array): ScannedMessage | null {
  const len = b.length;
  if (len < 12) return null;
  const flags = u16(b, 2);
  const qd = u16(b, 4);
  const an = u16(b, 6);
  const ns = u16(b, 8);
  const ar = u16(b, 10);
  let o = 12;
  for (let i = 0; i < qd; i++) {
    o = checkName(b, o, len);
    if (o < 0 || o + 4 > len) return null;
    o += 4;
  }
  const questionEnd = o;
  const ttlOffsets: number[] = [];
  let minAnswerTtl = Infinity;
  let negativeTtl: number | null = null;
  let optOffset = -1;
  let optMisplaced = false;
  const total = an + ns + ar;
  for (let i = 0; i < total; i++) {
    const start = o;
    o = checkName(b, o, len);
    if (o < 0 || o + 10 > len) return null;
    const type = u16(b, o);
    const ttl = readTtl(b, o + 4);
    const rdlen = u16(b, o + 8);
    const rdata = o + 10;
    const next = rdata + rdlen;
    if (next > len) return null;
    if (type === OPT) {
      if (i < an + ns || optOffset >= 0 || optMisplaced || o !== start + 1) return null;
      if (i === total - 1) optOffset = start;
      else optMisplaced = true;
    } else {
      if (!rdataValid(b, type, rdata, next)) return null;
      ttlOffsets.push(o + 4);
      if (i < an) minAnswerTtl = Math.min(minAnswerTtl, ttl);
      if (type === 6 && i >= an && i < an + ns) {
        const minimum = readTtl(b, next - 4); // a TTL too (RFC 2308 §4)
        const neg = Math.min(ttl, minimum);
        negativeTtl = negativeTtl === null ? neg : Math.min(negativeTtl, neg);
      }
    }
    o = next;
  }
  return {
    id: u16(b, 0),
    flags,
    rcode: flags & 0xf,
    truncated: (flags & Flag.TC) !== 0,
    questionCount: qd,
    questionEnd,
    answerCount: an,
    ttlOffsets,
    minAnswerTtl,
    negativeTtl,
    optOffset,
    optMisplaced,
    end: o,
  };
}

/** Largest TTL (RFC 2181 §8: TTLs are 0 to 2^31 − 1). */
export const MAX_TTL = 0x7fffffff;

/**
 * Reads the TTL at `o`: a value with the most significant bit set is 0 (RFC 2181 §8, "treated
 * as if the entire value received was zero"), not the value without that bit.
 */
export function readTtl(b: Uint8Array, o: number): number {
  const ttl = u32(b, o);
  return ttl > MAX_TTL ? 0 : ttl;
}

/** Writes a TTL at `o`. */
export function writeTtl(b: Uint8Array, o: number, ttl: number): void {
  b[o] = (ttl >>> 24) & 0xff;
  b[o + 1] = (ttl >>> 16) & 0xff;
  b[o + 2] = (ttl >>> 8) & 0xff;
  b[o + 3] = ttl & 0xff;
}
