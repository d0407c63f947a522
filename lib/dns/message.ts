// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Our typed DNS message codec (RFC 1035 §4, RFC 6891 for EDNS0), wrapping `npm:dns-packet`.
 *
 * dns-packet's untyped objects, `Buffer`s and its `encode.bytes` side channel stay inside this
 * file: callers get readonly, typed values and plain `Uint8Array`s, and decoding failures are
 * {@linkcode DnsFormatError}s that the server maps to FORMERR. The hot path does not use this
 * codec at all (see `wire.ts`); it serves the slow path, tests and tools.
 * @module
 */
import { Buffer } from "node:buffer";
import packet from "dns-packet";
import types from "dns-packet/types.js";
import classes from "dns-packet/classes.js";
import opcodes from "dns-packet/opcodes.js";

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
  /** Name without the trailing dot ("" for the root), case as sent. */
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

// ---- dns-packet shapes we touch (it ships no types) ----
interface PacketQuestion {
  name: string;
  type: string;
  class: string;
}
interface PacketAnswer {
  name: string;
  type: string;
  class?: string;
  ttl?: number;
  data?: unknown;
  udpPayloadSize?: number;
  extendedRcode?: number;
  ednsVersion?: number;
  flags?: number;
  options?: { code: number; data?: Uint8Array }[];
}
interface PacketMessage {
  id: number;
  type: "query" | "response";
  flags: number;
  opcode?: string;
  rcode?: string;
  questions: PacketQuestion[];
  answers: PacketAnswer[];
  authorities: PacketAnswer[];
  additionals: PacketAnswer[];
}

const FLAG_QR = 0x8000;
const FLAG_AA = 0x0400;
const FLAG_TC = 0x0200;
const FLAG_RD = 0x0100;
const FLAG_RA = 0x0080;
const FLAG_AD = 0x0020;
const FLAG_CD = 0x0010;
const DO_BIT = 0x8000;

function stripDot(name: string): string {
  if (name === ".") return "";
  return name.endsWith(".") ? name.slice(0, -1) : name;
}

function toBytes(data: unknown): Uint8Array {
  if (data instanceof Uint8Array) return new Uint8Array(data);
  return new Uint8Array(0);
}

function typeCode(name: string): number {
  return types.toType(name) as number;
}

function convertRecord(a: PacketAnswer): DnsRecord {
  const base = {
    name: stripDot(a.name),
    class: classes.toClass(a.class ?? "IN") as number,
    ttl: a.ttl ?? 0,
  };
  const d = a.data;
  switch (a.type) {
    case "A":
    case "AAAA":
      return { ...base, type: a.type, address: String(d) };
    case "CNAME":
    case "PTR":
    case "NS":
      return { ...base, type: a.type, target: stripDot(String(d)) };
    case "SRV": {
      const s = d as { priority?: number; weight?: number; port?: number; target: string };
      return {
        ...base,
        type: "SRV",
        priority: s.priority ?? 0,
        weight: s.weight ?? 0,
        port: s.port ?? 0,
        target: stripDot(s.target),
      };
    }
    case "TXT": {
      const list = Array.isArray(d) ? d : [d];
      return {
        ...base,
        type: "TXT",
        texts: list.map((t) => (t instanceof Uint8Array ? new TextDecoder().decode(t) : String(t))),
      };
    }
    case "SOA": {
      const s = d as {
        mname: string;
        rname: string;
        serial: number;
        refresh: number;
        retry: number;
        expire: number;
        minimum: number;
      };
      return {
        ...base,
        type: "SOA",
        mname: stripDot(s.mname),
        rname: stripDot(s.rname),
        serial: s.serial,
        refresh: s.refresh,
        retry: s.retry,
        expire: s.expire,
        minimum: s.minimum,
      };
    }
    default:
      return { ...base, type: "RAW", code: typeCode(a.type), data: toBytes(d) };
  }
}

/**
 * Decodes one DNS message from `bytes` (at `offset`).
 *
 * Name compression pointers must point backwards (RFC 1035 §4.1.4), which makes pointer loops
 * impossible; names longer than 255 octets are rejected.
 * @throws {DnsFormatError} when the bytes are not a well-formed message
 */
export function decodeMessage(bytes: Uint8Array, offset = 0): Decoded<DnsMessage> {
  const available = bytes.length - offset;
  const id = available >= 12 ? ((bytes[offset]! << 8) | bytes[offset + 1]!) : null;
  if (available < 12) {
    throw new DnsFormatError(
      `Cannot decode DNS message: ${available} bytes is shorter than a header`,
      id,
    );
  }
  if (available > MAX_MESSAGE_SIZE) {
    throw new DnsFormatError(`Cannot decode DNS message: ${available} bytes is too large`, id);
  }
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset + offset, available);
  let raw: PacketMessage;
  let bytesRead: number;
  try {
    raw = packet.decode(buf) as PacketMessage;
    bytesRead = packet.decode.bytes as number;
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new DnsFormatError(`Cannot decode DNS message: ${detail}`, id, { cause: err });
  }
  if (bytesRead > available) {
    throw new DnsFormatError("Cannot decode DNS message: records run past the end", id);
  }
  let edns: Edns | null = null;
  const additionals: DnsRecord[] = [];
  for (const a of raw.additionals) {
    if (a.type !== "OPT") {
      additionals.push(convertRecord(a));
      continue;
    }
    if (edns !== null) {
      throw new DnsFormatError("Cannot decode DNS message: more than one OPT record", id);
    }
    if (a.name !== ".") {
      throw new DnsFormatError("Cannot decode DNS message: OPT owner is not the root", id);
    }
    edns = {
      udpPayloadSize: a.udpPayloadSize ?? 512,
      extendedRcode: a.extendedRcode ?? 0,
      version: a.ednsVersion ?? 0,
      dnssecOk: ((a.flags ?? 0) & DO_BIT) !== 0,
      options: (a.options ?? []).map((o) => ({ code: o.code, data: toBytes(o.data) })),
    };
  }
  const flags = raw.flags;
  const value: DnsMessage = {
    id: raw.id,
    response: raw.type === "response",
    opcode: opcodes.toOpcode(raw.opcode ?? "QUERY") as number,
    authoritative: (flags & FLAG_AA) !== 0,
    truncated: (flags & FLAG_TC) !== 0,
    recursionDesired: (flags & FLAG_RD) !== 0,
    recursionAvailable: (flags & FLAG_RA) !== 0,
    authenticData: (flags & FLAG_AD) !== 0,
    checkingDisabled: (flags & FLAG_CD) !== 0,
    rcode: (flags & 0xf) | ((edns?.extendedRcode ?? 0) << 4),
    questions: raw.questions.map((q) => ({
      name: stripDot(q.name),
      type: typeCode(q.type),
      class: classes.toClass(q.class) || Number(q.class.replace(/^UNKNOWN_/, "")),
    })),
    answers: raw.answers.map(convertRecord),
    authorities: raw.authorities.map(convertRecord),
    additionals,
    edns,
  };
  return { value, bytesRead };
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

function typeName(code: number): string {
  return types.toString(code) as string;
}

function className(code: number): string {
  return classes.toString(code) as string;
}

function fqdn(name: string): string {
  return name === "" ? "." : name;
}

function toPacketRecord(r: DnsRecord): PacketAnswer {
  const base = { name: fqdn(r.name), class: className(r.class), ttl: r.ttl };
  switch (r.type) {
    case "A":
    case "AAAA":
      return { ...base, type: r.type, data: r.address };
    case "CNAME":
    case "PTR":
    case "NS":
      return { ...base, type: r.type, data: fqdn(r.target) };
    case "SRV":
      return {
        ...base,
        type: "SRV",
        data: { priority: r.priority, weight: r.weight, port: r.port, target: fqdn(r.target) },
      };
    case "TXT":
      return { ...base, type: "TXT", data: r.texts.map((t) => Buffer.from(t)) };
    case "SOA":
      return {
        ...base,
        type: "SOA",
        data: {
          mname: fqdn(r.mname),
          rname: fqdn(r.rname),
          serial: r.serial,
          refresh: r.refresh,
          retry: r.retry,
          expire: r.expire,
          minimum: r.minimum,
        },
      };
    case "RAW":
      return { ...base, type: typeName(r.code), data: Buffer.from(r.data) };
  }
}

function toPacket(m: DnsMessageInit): PacketMessage {
  const rcode = m.rcode ?? 0;
  let flags = (m.opcode ?? 0) << 11 | (rcode & 0xf);
  if (m.authoritative) flags |= FLAG_AA;
  if (m.truncated) flags |= FLAG_TC;
  if (m.recursionDesired) flags |= FLAG_RD;
  if (m.recursionAvailable) flags |= FLAG_RA;
  if (m.authenticData) flags |= FLAG_AD;
  if (m.checkingDisabled) flags |= FLAG_CD;
  if (rcode > 15 && !m.edns) {
    throw new RangeError(`Cannot encode DNS message: rcode ${rcode} needs an OPT record`);
  }
  const additionals = (m.additionals ?? []).map(toPacketRecord);
  if (m.edns) {
    additionals.push({
      name: ".",
      type: "OPT",
      udpPayloadSize: m.edns.udpPayloadSize,
      extendedRcode: rcode >> 4,
      ednsVersion: m.edns.version,
      flags: m.edns.dnssecOk ? DO_BIT : 0,
      options: (m.edns.options ?? []).map((o) => ({ code: o.code, data: Buffer.from(o.data) })),
    });
  }
  return {
    id: m.id,
    type: m.response ? "response" : "query",
    flags: flags | (m.response ? FLAG_QR : 0),
    questions: (m.questions ?? []).map((q) => ({
      name: fqdn(q.name),
      type: typeName(q.type),
      class: className(q.class),
    })),
    answers: (m.answers ?? []).map(toPacketRecord),
    authorities: (m.authorities ?? []).map(toPacketRecord),
    additionals,
  };
}

/**
 * Encodes a message (no name compression, as dns-packet writes it).
 * @throws {RangeError} when a value does not fit its field or the message exceeds 65535 bytes
 */
export function encodeMessage(m: DnsMessageInit): Uint8Array {
  let out: Uint8Array;
  try {
    const buf = packet.encode(toPacket(m)) as Uint8Array;
    out = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength).slice();
  } catch (err) {
    if (err instanceof RangeError && err.message.startsWith("Cannot encode")) throw err;
    const detail = err instanceof Error ? err.message : String(err);
    throw new RangeError(`Cannot encode DNS message: ${detail}`, { cause: err });
  }
  if (out.length > MAX_MESSAGE_SIZE) {
    throw new RangeError(`Cannot encode DNS message: ${out.length} bytes is too large`);
  }
  return out;
}

/** Number of bytes {@linkcode encodeMessage} produces for `m`. */
export function encodingLength(m: DnsMessageInit): number {
  return packet.encodingLength(toPacket(m)) as number;
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
