// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Domain names between their wire form (RFC 1035 §3.1: length-prefixed labels ending in the
 * root label, with §4.1.4 compression pointers) and the text the codec's callers see.
 *
 * The text is the presentation form of RFC 1035 §5.1, so that decoding and re-encoding a name
 * gives back the same octets whatever a label holds: labels are joined with `.`, no trailing
 * dot, `""` for the root; inside a label `.` is written `\.`, `\` is `\\`, and octets that are
 * controls or space (0x00–0x20, 0x7f) are `\DDD` (decimal). A label that is valid UTF-8 keeps
 * its other characters as they are (so `bücher` stays readable); in a label that is not, every
 * octet of 0x80 or more is `\DDD` too. Ordinary host names (letters, digits, `-`, `_`) are
 * therefore spelled exactly as on the wire.
 *
 * Encoding reads the same form back, accepts one trailing `.` (an absolute name), and does not
 * compress.
 * @module
 */
import { WireError, type WireReader, type WireWriter } from "./buffer.ts";

/** Longest name on the wire, root label included (RFC 1035 §2.3.4). */
export const MAX_NAME_OCTETS = 255;
/** Longest label (RFC 1035 §2.3.4); the two high bits of a length octet mark pointers. */
export const MAX_LABEL_OCTETS = 63;
/**
 * Most compression pointers followed in one name. A name has at most 127 labels, so a
 * well-formed one never needs more; without a bound a 64 KiB message holding a chain of
 * 16 000 pointers, and 2 000 records whose names point to its end, cost about 90 ms to decode.
 */
export const MAX_NAME_POINTERS = 127;

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

/** Octets written as themselves: printable ASCII except `.` and `\`. */
function plain(c: number): boolean {
  return c > 0x20 && c < 0x7f && c !== 0x2e && c !== 0x5c;
}

function escapeOctet(c: number): string {
  if (c === 0x2e) return "\\.";
  if (c === 0x5c) return "\\\\";
  return `\\${String(c).padStart(3, "0")}`;
}

/** The text of one label (`len` octets at `start`), escaped as the module doc says. */
function labelText(b: Uint8Array, start: number, len: number): string {
  const end = start + len;
  let simple = true;
  let ascii = true;
  for (let i = start; i < end; i++) {
    const c = b[i]!;
    if (!plain(c)) simple = false;
    if (c >= 0x80) ascii = false;
  }
  if (simple) return String.fromCharCode(...b.subarray(start, end));
  let text: string | null = null;
  if (!ascii) {
    try {
      text = utf8.decode(b.subarray(start, end));
    } catch {
      text = null; // not UTF-8: escape octet by octet below
    }
  }
  let out = "";
  if (text !== null) {
    for (const ch of text) {
      const c = ch.codePointAt(0)!;
      out += c < 0x80 && !plain(c) ? escapeOctet(c) : ch;
    }
    return out;
  }
  for (let i = start; i < end; i++) {
    const c = b[i]!;
    out += plain(c) ? String.fromCharCode(c) : escapeOctet(c);
  }
  return out;
}

/**
 * Reads the name at `r.pos` and moves `r.pos` past it (past the first pointer when the name is
 * compressed). Octets read in place must lie before `end` (the end of the record data that
 * holds the name); compressed parts may be anywhere earlier in the message.
 *
 * Every pointer must point before the start of the labels that led to it (RFC 1035 §4.1.4:
 * "a pointer to a prior occurrence"), so each jump goes strictly backwards and pointer loops
 * cannot happen; the name may not exceed 255 octets, nor follow more than
 * {@linkcode MAX_NAME_POINTERS} pointers.
 * @throws {WireError} on a truncated name, a reserved label type, a pointer that does not point
 *   backwards, too many pointers, or a name that is too long
 */
export function readName(r: WireReader, end: number): string {
  const b = r.bytes;
  const at = r.pos;
  let pos = at;
  let limit = end;
  let segment = at;
  let jumped = false;
  let jumps = 0;
  let octets = 1;
  let name = "";
  for (;;) {
    if (pos >= limit) throw new WireError(`name at offset ${at} runs past the end`);
    const len = b[pos]!;
    if (len === 0) {
      pos++;
      break;
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (pos + 2 > limit) throw new WireError(`name at offset ${at} runs past the end`);
      if (++jumps > MAX_NAME_POINTERS) {
        throw new WireError(
          `name at offset ${at} has more than ${MAX_NAME_POINTERS} compression pointers`,
        );
      }
      const target = ((len & 0x3f) << 8) | b[pos + 1]!;
      if (target >= segment) {
        throw new WireError(
          `name at offset ${at} has a compression pointer to ${target} that does not point backwards`,
        );
      }
      if (!jumped) r.pos = pos + 2;
      jumped = true;
      pos = segment = target;
      limit = b.length;
      continue;
    }
    if (kind !== 0) {
      throw new WireError(`name at offset ${at} has a reserved label type 0x${kind.toString(16)}`);
    }
    octets += len + 1;
    if (octets > MAX_NAME_OCTETS) {
      throw new WireError(`name at offset ${at} is longer than ${MAX_NAME_OCTETS} octets`);
    }
    if (pos + 1 + len > limit) throw new WireError(`name at offset ${at} runs past the end`);
    const label = labelText(b, pos + 1, len);
    name = name === "" ? label : `${name}.${label}`;
    pos += 1 + len;
  }
  if (!jumped) r.pos = pos;
  return name;
}

function nameError(name: string, why: string): RangeError {
  return new RangeError(`Cannot encode DNS message: name ${JSON.stringify(name)} ${why}`);
}

/**
 * Writes `name` (the form described in the module doc) uncompressed.
 * @throws {RangeError} on an empty label, a label over 63 or a name over 255 octets, or a bad
 *   escape
 */
export function writeName(w: WireWriter, name: string): void {
  const n = name.length;
  if (n === 0 || name === ".") {
    w.u8(0);
    return;
  }
  const start = w.length;
  let label = start; // where the current label's length octet goes
  w.u8(0);
  const endLabel = () => {
    const len = w.length - label - 1;
    if (len === 0) throw nameError(name, "has an empty label");
    if (len > MAX_LABEL_OCTETS) {
      throw nameError(name, `has a label longer than ${MAX_LABEL_OCTETS} octets`);
    }
    w.patchU8(label, len);
  };
  let open = true;
  for (let i = 0; i < n; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x2e) {
      endLabel();
      if (i === n - 1) {
        open = false; // one trailing dot: an absolute name
        break;
      }
      label = w.length;
      w.u8(0);
    } else if (c === 0x5c) {
      const d = /^[0-9]{3}/.exec(name.slice(i + 1, i + 4));
      if (d !== null) {
        const v = Number(d[0]);
        if (v > 255) throw nameError(name, `has an escape \\${d[0]} above 255`);
        w.u8(v);
        i += 3;
      } else if (i + 1 < n) {
        const cp = name.codePointAt(i + 1)!;
        writeChar(w, cp);
        i += cp > 0xffff ? 2 : 1;
      } else {
        throw nameError(name, "ends with a lone backslash");
      }
    } else if (c < 0x80) {
      w.u8(c);
    } else {
      const cp = name.codePointAt(i)!;
      writeChar(w, cp);
      if (cp > 0xffff) i++;
    }
  }
  if (open) endLabel();
  w.u8(0);
  if (w.length - start > MAX_NAME_OCTETS) {
    throw nameError(name, `is longer than ${MAX_NAME_OCTETS} octets`);
  }
}

function writeChar(w: WireWriter, cp: number): void {
  if (cp < 0x80) w.u8(cp);
  else w.bytes(encoder.encode(String.fromCodePoint(cp)));
}
