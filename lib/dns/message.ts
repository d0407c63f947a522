// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Our typed DNS message codec (RFC 1035 §4; AAAA of RFC 3596, SRV of RFC 2782, EDNS0 of
 * RFC 6891, the SOA negative-caching TTL of RFC 2308), written for this project with no
 * dependency: loading it costs no npm or node-compat machinery.
 *
 * Callers get readonly, typed values and plain `Uint8Array`s; decoding failures are
 * {@linkcode DnsFormatError}s that the server maps to FORMERR. The hot path does not use this
 * codec at all (see `wire.ts`); it serves the slow path, tests and tools. The parts are in
 * `codec/`: byte cursors (`buffer.ts`), names (`name.ts`: compression, the text form of
 * labels), records (`rdata.ts`) and type mnemonics (`type_names.ts`).
 * @module
 */
import { checkUint, WireError, WireReader, WireWriter } from "./codec/buffer.ts";
import { readName, writeName } from "./codec/name.ts";
import { readRecordData, readRecordHeader, type RecordHeader, writeRecord } from "./codec/rdata.ts";
import { typeName } from "./codec/type_names.ts";

/** Record type codes we name (IANA "Resource Record (RR) TYPEs"); any other code is allowed too. */
export const RRType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  IXFR: 251,
  AXFR: 252,
  ANY: 255,
} as const;

/** Class codes (RFC 1035 §3.2.4). */
export const RRClass = { IN: 1, CH: 3, HS: 4, NONE: 254, ANY: 255 } as const;

/** Response codes (RFC 1035 §4.1.1, RFC 6891 §9 for BADVERS, which needs the OPT extension). */
export const Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  BADVERS: 16,
} as const;

/** Opcodes (RFC 1035 §4.1.1); only QUERY is implemented. */
export const Opcode = { QUERY: 0, IQUERY: 1, STATUS: 2, NOTIFY: 4, UPDATE: 5 } as const;

/** The largest message we accept or produce (the TCP length prefix is 16 bits). */
export const MAX_MESSAGE_SIZE = 65535;

/** Raised when bytes are not a DNS message; `id` is set when the 12-byte header was readable. */
export class DnsFormatError extends SyntaxError {
  /** Message ID from the header, or null when the packet is shorter than a header. */
  readonly id: number | null;
  constructor(message: string, id: number | null, options?: ErrorOptions) {
    super(message, options);
    this.name = "DnsFormatError";
    this.id = id;
  }
}

/** One entry of the question section. */
export interface DnsQuestion {
  /**
   * Name without the trailing dot ("" for the root), case as sent. A `.` or `\` inside a
   * label and control octets are escaped as `\.`, `\\` and `\DDD` (RFC 1035 §5.1), see
   * `codec/name.ts`.
   */
  readonly name: string;
  readonly type: number;
  readonly class: number;
}

interface RecordBase {
  /** Owner name without the trailing dot ("" for the root). */
  readonly name: string;
  readonly class: number;
  /** Seconds, 0–2^31-1 (RFC 2181 §8). */
  readonly ttl: number;
}

/** An A (RFC 1035) or AAAA (RFC 3596) record. */
export interface AddressRecord extends RecordBase {
  readonly type: "A" | "AAAA";
  readonly address: string;
}

/** A record whose data is a single domain name. */
export interface NameRecord extends RecordBase {
  readonly type: "CNAME" | "PTR" | "NS";
  readonly target: string;
}

/** SRV (RFC 2782). */
export interface SrvRecord extends RecordBase {
  readonly type: "SRV";
  readonly priority: number;
  readonly weight: number;
  readonly port: number;
  readonly target: string;
}

/** TXT: one or more character-strings (RFC 1035 §3.3.14). */
export interface TxtRecord extends RecordBase {
  readonly type: "TXT";
  readonly texts: readonly string[];
}

/**
 * The RDATA fields of an SOA (RFC 1035 §3.3.13); `minimum` is the negative-caching TTL
 * (RFC 2308 §4). The zone's own SOA (`ZoneSoa`) is these fields.
 */
export interface SoaFields {
  readonly mname: string;
  readonly rname: string;
  readonly serial: number;
  readonly refresh: number;
  readonly retry: number;
  readonly expire: number;
  readonly minimum: number;
}

/** SOA record (RFC 1035 §3.3.13). */
export interface SoaRecord extends RecordBase, SoaFields {
  readonly type: "SOA";
}

/** Any other type, kept as raw RDATA. */
export interface RawRecord extends RecordBase {
  readonly type: "RAW";
  /** The numeric record type. */
  readonly code: number;
  readonly data: Uint8Array;
}

/** A resource record of the answer, authority or additional section (OPT is in `edns`). */
export type DnsRecord =
  | AddressRecord
  | NameRecord
  | SrvRecord
  | TxtRecord
  | SoaRecord
  | RawRecord;

/** The EDNS0 OPT pseudo-record (RFC 6891 §6.1). */
export interface Edns {
  /** Requestor's UDP payload size. */
  readonly udpPayloadSize: number;
  /** Upper 8 bits of the 12-bit RCODE. */
  readonly extendedRcode: number;
  readonly version: number;
  /** DNSSEC OK (RFC 3225). */
  readonly dnssecOk: boolean;
  readonly options: readonly { readonly code: number; readonly data: Uint8Array }[];
}

/** A whole DNS message. */
export interface DnsMessage {
  readonly id: number;
  /** QR bit. */
  readonly response: boolean;
  readonly opcode: number;
  readonly authoritative: boolean;
  readonly truncated: boolean;
  readonly recursionDesired: boolean;
  readonly recursionAvailable: boolean;
  readonly authenticData: boolean;
  readonly checkingDisabled: boolean;
  /** Full RCODE: the header's 4 bits plus the OPT extension (e.g. BADVERS = 16). */
  readonly rcode: number;
  readonly questions: readonly DnsQuestion[];
  readonly answers: readonly DnsRecord[];
  readonly authorities: readonly DnsRecord[];
  /** Additional records without the OPT pseudo-record. */
  readonly additionals: readonly DnsRecord[];
  /** The OPT record, or null when the message has none. */
  readonly edns: Edns | null;
}

/** Result of {@linkcode decodeMessage}. */
export interface Decoded<T> {
  readonly value: T;
  readonly bytesRead: number;
}

const FLAG_QR = 0x8000;
const FLAG_AA = 0x0400;
const FLAG_TC = 0x0200;
const FLAG_RD = 0x0100;
const FLAG_RA = 0x0080;
const FLAG_AD = 0x0020;
const FLAG_CD = 0x0010;
/** DNSSEC OK, the top bit of the OPT record's flags (RFC 3225 §3). */
const DO_BIT = 0x8000;
const HEADER_SIZE = 12;

/** One OPT record into `Edns` (RFC 6891 §6.1.2–6.1.3): CLASS and TTL carry the EDNS fields. */
function readEdns(r: WireReader, h: RecordHeader): Edns {
  if (h.name !== "") throw new WireError("OPT owner is not the root");
  const options: { code: number; data: Uint8Array }[] = [];
  while (r.pos < h.dataEnd) {
    r.need(4, "OPT option", h.dataEnd);
    const code = r.u16();
    const length = r.u16();
    r.need(length, "OPT option data", h.dataEnd);
    options.push({ code, data: r.copy(length) });
  }
  return {
    udpPayloadSize: h.class,
    extendedRcode: h.ttl >>> 24,
    version: (h.ttl >>> 16) & 0xff,
    dnssecOk: (h.ttl & DO_BIT) !== 0,
    options,
  };
}

function readSection(r: WireReader, count: number): DnsRecord[] {
  const out: DnsRecord[] = [];
  for (let i = 0; i < count; i++) out.push(readRecordData(r, readRecordHeader(r)));
  return out;
}

/**
 * Decodes one DNS message from `bytes` (at `offset`): the header (RFC 1035 §4.1.1), questions
 * (§4.1.2) and the three record sections (§4.1.3); an OPT record among the additional ones
 * becomes `edns` (RFC 6891). Trailing octets after the last record are not read
 * (`bytesRead` says where the message ended).
 *
 * Names are decoded as `./codec/name.ts` describes. Compression pointers must point backwards
 * (RFC 1035 §4.1.4), which makes pointer loops impossible; names longer than 255 octets are
 * rejected. The data of A, AAAA, CNAME, PTR, NS, SRV, TXT, SOA and OPT records must fill their
 * RDLENGTH exactly; other types are kept as raw RDATA.
 * @throws {DnsFormatError} when the bytes are not a well-formed message
 */
export function decodeMessage(bytes: Uint8Array, offset = 0): Decoded<DnsMessage> {
  const available = bytes.length - offset;
  const id = available >= HEADER_SIZE ? ((bytes[offset]! << 8) | bytes[offset + 1]!) : null;
  if (available < HEADER_SIZE) {
    throw new DnsFormatError(
      `Cannot decode DNS message: ${available} bytes is shorter than a header`,
      id,
    );
  }
  if (available > MAX_MESSAGE_SIZE) {
    throw new DnsFormatError(`Cannot decode DNS message: ${available} bytes is too large`, id);
  }
  try {
    return decodeView(new WireReader(bytes.subarray(offset)));
  } catch (err) {
    if (!(err instanceof WireError)) throw err;
    throw new DnsFormatError(`Cannot decode DNS message: ${err.message}`, id);
  }
}

function decodeView(r: WireReader): Decoded<DnsMessage> {
  const id = r.u16();
  const flags = r.u16();
  const qdcount = r.u16();
  const ancount = r.u16();
  const nscount = r.u16();
  const arcount = r.u16();
  const questions: DnsQuestion[] = [];
  for (let i = 0; i < qdcount; i++) {
    const name = readName(r, r.bytes.length);
    r.need(4, "question type and class");
    questions.push({ name, type: r.u16(), class: r.u16() });
  }
  const answers = readSection(r, ancount);
  const authorities = readSection(r, nscount);
  let edns: Edns | null = null;
  const additionals: DnsRecord[] = [];
  for (let i = 0; i < arcount; i++) {
    const h = readRecordHeader(r);
    if (h.type !== RRType.OPT) {
      additionals.push(readRecordData(r, h));
      continue;
    }
    if (edns !== null) throw new WireError("more than one OPT record");
    edns = readEdns(r, h);
  }
  const value: DnsMessage = {
    id,
    response: (flags & FLAG_QR) !== 0,
    opcode: (flags >> 11) & 0xf,
    authoritative: (flags & FLAG_AA) !== 0,
    truncated: (flags & FLAG_TC) !== 0,
    recursionDesired: (flags & FLAG_RD) !== 0,
    recursionAvailable: (flags & FLAG_RA) !== 0,
    authenticData: (flags & FLAG_AD) !== 0,
    checkingDisabled: (flags & FLAG_CD) !== 0,
    rcode: (flags & 0xf) | ((edns?.extendedRcode ?? 0) << 4),
    questions,
    answers,
    authorities,
    additionals,
    edns,
  };
  return { value, bytesRead: r.pos };
}

/** Fields of a message to encode; omitted flags are false, omitted sections empty. */
export interface DnsMessageInit {
  readonly id: number;
  readonly response?: boolean;
  readonly opcode?: number;
  readonly authoritative?: boolean;
  readonly truncated?: boolean;
  readonly recursionDesired?: boolean;
  readonly recursionAvailable?: boolean;
  readonly authenticData?: boolean;
  readonly checkingDisabled?: boolean;
  /** Full RCODE; values above 15 need `edns` (their upper bits go into OPT). */
  readonly rcode?: number;
  readonly questions?: readonly DnsQuestion[];
  readonly answers?: readonly DnsRecord[];
  readonly authorities?: readonly DnsRecord[];
  readonly additionals?: readonly DnsRecord[];
  readonly edns?:
    | Omit<Edns, "extendedRcode" | "options"> & {
      readonly options?: Edns["options"];
    }
    | null;
}

const UINT16 = 0xffff;

/** Writes `m` without the overall size check (shared by encodeMessage and encodingLength). */
function writeMessage(m: DnsMessageInit): Uint8Array {
  const rcode = m.rcode ?? 0;
  const opcode = m.opcode ?? 0;
  checkUint(m.id, UINT16, "id");
  checkUint(opcode, 0xf, "opcode");
  checkUint(rcode, 0xfff, "rcode");
  if (rcode > 15 && !m.edns) {
    throw new RangeError(`Cannot encode DNS message: rcode ${rcode} needs an OPT record`);
  }
  let flags = (opcode << 11) | (rcode & 0xf);
  if (m.response) flags |= FLAG_QR;
  if (m.authoritative) flags |= FLAG_AA;
  if (m.truncated) flags |= FLAG_TC;
  if (m.recursionDesired) flags |= FLAG_RD;
  if (m.recursionAvailable) flags |= FLAG_RA;
  if (m.authenticData) flags |= FLAG_AD;
  if (m.checkingDisabled) flags |= FLAG_CD;
  const questions = m.questions ?? [];
  const answers = m.answers ?? [];
  const authorities = m.authorities ?? [];
  const additionals = m.additionals ?? [];
  const arcount = additionals.length + (m.edns ? 1 : 0);
  checkUint(questions.length, UINT16, "question count");
  checkUint(answers.length, UINT16, "answer count");
  checkUint(authorities.length, UINT16, "authority count");
  checkUint(arcount, UINT16, "additional count");

  const w = new WireWriter();
  w.u16(m.id);
  w.u16(flags);
  w.u16(questions.length);
  w.u16(answers.length);
  w.u16(authorities.length);
  w.u16(arcount);
  for (const q of questions) {
    checkUint(q.type, UINT16, `question type of ${JSON.stringify(q.name)}`);
    checkUint(q.class, UINT16, `question class of ${JSON.stringify(q.name)}`);
    writeName(w, q.name);
    w.u16(q.type);
    w.u16(q.class);
  }
  for (const rec of answers) writeRecord(w, rec);
  for (const rec of authorities) writeRecord(w, rec);
  for (const rec of additionals) writeRecord(w, rec);
  if (m.edns) writeEdns(w, m.edns, rcode >> 4);
  return w.finish();
}

/** The OPT record (RFC 6891 §6.1.2): root owner, CLASS = payload size, TTL = EDNS fields. */
function writeEdns(w: WireWriter, edns: NonNullable<DnsMessageInit["edns"]>, ext: number): void {
  checkUint(edns.udpPayloadSize, UINT16, "EDNS UDP payload size");
  checkUint(edns.version, 0xff, "EDNS version");
  w.u8(0);
  w.u16(RRType.OPT);
  w.u16(edns.udpPayloadSize);
  w.u8(ext);
  w.u8(edns.version);
  w.u16(edns.dnssecOk ? DO_BIT : 0);
  const at = w.length;
  w.u16(0);
  for (const o of edns.options ?? []) {
    checkUint(o.code, UINT16, "EDNS option code");
    checkUint(o.data.length, UINT16, `length of EDNS option ${o.code}`);
    w.u16(o.code);
    w.u16(o.data.length);
    w.bytes(o.data);
  }
  const length = w.length - at - 2;
  checkUint(length, UINT16, "OPT record data length");
  w.patchU16(at, length);
}

/**
 * Encodes a message. Names are written uncompressed (RFC 1035 §4.1.4 makes compression
 * optional), so the size of a message is the sum of its parts.
 * @throws {RangeError} when a value does not fit its field, a name or address is malformed, or
 *   the message exceeds 65535 bytes
 */
export function encodeMessage(m: DnsMessageInit): Uint8Array {
  const out = writeMessage(m);
  if (out.length > MAX_MESSAGE_SIZE) {
    throw new RangeError(`Cannot encode DNS message: ${out.length} bytes is too large`);
  }
  return out;
}

/**
 * Number of bytes {@linkcode encodeMessage} produces for `m` (also when that is more than it
 * allows).
 * @throws {RangeError} as encodeMessage does, except for the overall size
 */
export function encodingLength(m: DnsMessageInit): number {
  return writeMessage(m).length;
}

/** Prefixes a message with its 2-byte length for TCP (RFC 1035 §4.2.2). */
export function frameTcp(message: Uint8Array): Uint8Array {
  if (message.length > MAX_MESSAGE_SIZE) {
    throw new RangeError(`Cannot frame DNS message: ${message.length} bytes is too large`);
  }
  const out = new Uint8Array(message.length + 2);
  out[0] = message.length >> 8;
  out[1] = message.length & 0xff;
  out.set(message, 2);
  return out;
}

/** A readable name of a type code (`A`, `SRV`, `UNKNOWN_65280`), for logs and metrics. */
export function typeToString(code: number): string {
  return typeName(code);
}
