// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Resource records (RFC 1035 §4.1.3: owner, TYPE, CLASS, TTL, RDLENGTH, RDATA) and the RDATA
 * of the types the codec types: A (RFC 1035 §3.4.1), AAAA (RFC 3596 §2.2), CNAME, PTR and NS
 * (RFC 1035 §3.3), SRV (RFC 2782), TXT (RFC 1035 §3.3.14) and SOA (RFC 1035 §3.3.13, its
 * MINIMUM being the negative-caching TTL of RFC 2308 §4). Every other type is kept as its raw
 * RDATA (RFC 3597 §5).
 *
 * Decoding is strict: the data of a typed record must fill its RDLENGTH exactly. Names in
 * RDATA may be compressed (decoders accept that even where RFC 2782 and RFC 3597 §4 tell
 * encoders not to); we never compress.
 * @module
 */
import type { DnsRecord } from "../message.ts";
import { formatIpv4, parseIpv4 } from "../../netaddr/ipv4.ts";
import { formatIpv6, parseIpv6 } from "../../netaddr/ipv6.ts";
import { checkUint, WireError, type WireReader, type WireWriter } from "./buffer.ts";
import { readName, writeName } from "./name.ts";
import { typeName } from "./type_names.ts";

// Type codes (IANA registry); message.ts exports them as `RRType`.
const A = 1;
const NS = 2;
const CNAME = 5;
const SOA = 6;
const PTR = 12;
const TXT = 16;
const AAAA = 28;
const SRV = 33;

const UINT16 = 0xffff;
const UINT32 = 0xffffffff;
/** Longest character-string (one length octet, RFC 1035 §3.3). */
const MAX_STRING = 255;

const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });
const encoder = new TextEncoder();

/** The fields of a record before its RDATA; `dataEnd` is where the RDATA ends. */
export interface RecordHeader {
  readonly name: string;
  readonly type: number;
  readonly class: number;
  readonly ttl: number;
  readonly dataEnd: number;
}

/**
 * Reads a record's owner, TYPE, CLASS, TTL and RDLENGTH, leaving `r.pos` at its RDATA.
 * @throws {WireError} when the record or its RDATA runs past the end of the message
 */
export function readRecordHeader(r: WireReader): RecordHeader {
  const name = readName(r, r.bytes.length);
  r.need(10, "record header");
  const type = r.u16();
  const klass = r.u16();
  const ttl = r.u32();
  const length = r.u16();
  r.need(length, `${typeName(type)} record data`);
  return { name, type, class: klass, ttl, dataEnd: r.pos + length };
}

function exactly(r: WireReader, h: RecordHeader, n: number): void {
  const have = h.dataEnd - r.pos;
  if (have !== n) {
    throw new WireError(
      `${typeName(h.type)} record data at offset ${r.pos} is ${have} octets, expected ${n}`,
    );
  }
}

/**
 * Reads the RDATA of a record whose header is `h` (TYPE is not OPT: the caller handles it) and
 * leaves `r.pos` at `h.dataEnd`.
 * @throws {WireError} when the RDATA is malformed or does not fill RDLENGTH exactly
 */
export function readRecordData(r: WireReader, h: RecordHeader): DnsRecord {
  const base = { name: h.name, class: h.class, ttl: h.ttl };
  const end = h.dataEnd;
  const start = r.pos;
  let rec: DnsRecord;
  switch (h.type) {
    case A:
      exactly(r, h, 4);
      rec = { ...base, type: "A", address: formatIpv4(r.u32()) };
      break;
    case AAAA: {
      exactly(r, h, 16);
      const groups: number[] = [];
      for (let i = 0; i < 8; i++) groups.push(r.u16());
      rec = { ...base, type: "AAAA", address: formatIpv6(groups) };
      break;
    }
    case CNAME:
    case PTR:
    case NS:
      rec = {
        ...base,
        type: h.type === CNAME ? "CNAME" : h.type === PTR ? "PTR" : "NS",
        target: readName(r, end),
      };
      break;
    case SRV: {
      r.need(6, "SRV record data", end);
      const priority = r.u16();
      const weight = r.u16();
      const port = r.u16();
      rec = { ...base, type: "SRV", priority, weight, port, target: readName(r, end) };
      break;
    }
    case TXT: {
      const texts: string[] = [];
      while (r.pos < end) {
        const n = r.u8();
        r.need(n, "TXT character-string", end);
        texts.push(utf8.decode(r.bytes.subarray(r.pos, r.pos + n)));
        r.pos += n;
      }
      rec = { ...base, type: "TXT", texts };
      break;
    }
    case SOA: {
      const mname = readName(r, end);
      const rname = readName(r, end);
      r.need(20, "SOA record data", end);
      rec = {
        ...base,
        type: "SOA",
        mname,
        rname,
        serial: r.u32(),
        refresh: r.u32(),
        retry: r.u32(),
        expire: r.u32(),
        minimum: r.u32(),
      };
      break;
    }
    default:
      rec = { ...base, type: "RAW", code: h.type, data: r.copy(end - start) };
  }
  if (r.pos !== end) {
    throw new WireError(
      `${typeName(h.type)} record data at offset ${start} has ${end - r.pos} octets left over`,
    );
  }
  return rec;
}

function typeCodeOf(rec: DnsRecord): number {
  switch (rec.type) {
    case "A":
      return A;
    case "AAAA":
      return AAAA;
    case "CNAME":
      return CNAME;
    case "PTR":
      return PTR;
    case "NS":
      return NS;
    case "SRV":
      return SRV;
    case "TXT":
      return TXT;
    case "SOA":
      return SOA;
    case "RAW":
      return rec.code;
  }
}

function addressError(rec: DnsRecord & { readonly address: string }): RangeError {
  const family = rec.type === "A" ? "IPv4" : "IPv6";
  return new RangeError(
    `Cannot encode DNS message: ${rec.type} record of ${JSON.stringify(rec.name)} has ` +
      `${JSON.stringify(rec.address)}, not an ${family} address`,
  );
}

function writeData(w: WireWriter, rec: DnsRecord, of: string): void {
  switch (rec.type) {
    case "A": {
      const v = parseIpv4(rec.address);
      if (v === null) throw addressError(rec);
      w.u32(v);
      return;
    }
    case "AAAA": {
      const groups = parseIpv6(rec.address);
      if (groups === null) throw addressError(rec);
      for (const g of groups) w.u16(g);
      return;
    }
    case "CNAME":
    case "PTR":
    case "NS":
      writeName(w, rec.target);
      return;
    case "SRV":
      checkUint(rec.priority, UINT16, `SRV priority ${of}`);
      checkUint(rec.weight, UINT16, `SRV weight ${of}`);
      checkUint(rec.port, UINT16, `SRV port ${of}`);
      w.u16(rec.priority);
      w.u16(rec.weight);
      w.u16(rec.port);
      writeName(w, rec.target);
      return;
    case "TXT":
      for (const t of rec.texts) {
        const bytes = encoder.encode(t);
        if (bytes.length > MAX_STRING) {
          throw new RangeError(
            `Cannot encode DNS message: TXT record ${of} has a character-string of ` +
              `${bytes.length} octets (at most ${MAX_STRING})`,
          );
        }
        w.u8(bytes.length);
        w.bytes(bytes);
      }
      return;
    case "SOA":
      writeName(w, rec.mname);
      writeName(w, rec.rname);
      for (const k of ["serial", "refresh", "retry", "expire", "minimum"] as const) {
        checkUint(rec[k], UINT32, `SOA ${k} ${of}`);
        w.u32(rec[k]);
      }
      return;
    case "RAW":
      w.bytes(rec.data);
      return;
  }
}

/**
 * Writes one record, its RDLENGTH computed from the data written.
 * @throws {RangeError} when a field does not fit its width, an address or name is malformed,
 *   or the RDATA exceeds 65535 octets
 */
export function writeRecord(w: WireWriter, rec: DnsRecord): void {
  const of = `of ${JSON.stringify(rec.name)}`;
  const code = typeCodeOf(rec);
  checkUint(code, UINT16, `record type ${of}`);
  checkUint(rec.class, UINT16, `class ${of}`);
  checkUint(rec.ttl, UINT32, `ttl ${of}`);
  writeName(w, rec.name);
  w.u16(code);
  w.u16(rec.class);
  w.u32(rec.ttl);
  const at = w.length;
  w.u16(0);
  writeData(w, rec, of);
  const length = w.length - at - 2;
  if (length > UINT16) {
    throw new RangeError(
      `Cannot encode DNS message: ${typeName(code)} record data ${of} is ${length} octets ` +
        `(at most ${UINT16})`,
    );
  }
  w.patchU16(at, length);
}
