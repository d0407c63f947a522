// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Turns one query packet into one answer packet: the protocol layer between the sockets
 * (`udp_server.ts`, `tcp_server.ts`) and the pure {@linkcode resolve}.
 *
 * - Fast path: a single-question A query for a name with A records (the common case) is parsed
 *   and answered straight from bytes into the caller's buffer (`wire.ts`).
 * - Slow path: the full codec; FORMERR when the header is readable but the rest is not,
 *   nothing for packets shorter than a header and for responses (QR=1), NOTIMP for opcodes
 *   other than QUERY, FORMERR for zero or several questions, BADVERS for EDNS versions above 0
 *   (RFC 6891 §6.1.3), TC when a UDP answer does not fit 512 bytes or the EDNS payload size.
 * - Names that are not ours go to the {@linkcode Forwarder}, only for clients the
 *   {@linkcode AllowList} admits; others get REFUSED.
 * - Every reply whose query header is readable, whichever path made it (local, fast, forwarded
 *   fresh or from the cache, FORMERR, NOTIMP, BADVERS, REFUSED, SERVFAIL, truncated), carries
 *   the query's ID, RD and CD (RFC 1035 §4.1.1, RFC 4035 §3.2.2, RFC 6840 §5.9), and RA
 *   exactly when this client may use forwarding.
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { nullLogger } from "../log/mod.ts";
import { AllowList } from "./allow.ts";
import { cacheKey } from "./cache.ts";
import { type Forwarder, type ForwardRequest, renderedSize } from "./forward.ts";
import {
  decodeMessage,
  DnsFormatError,
  type DnsMessage,
  type DnsQuestion,
  type DnsRecord,
  encodeMessage,
  MAX_MESSAGE_SIZE,
  Opcode,
  Rcode,
  RRClass,
  RRType,
} from "./message.ts";
import type { DnsMetrics } from "./metrics.ts";
import { type LocalAnswer, resolve } from "./resolve.ts";
import {
  DO_BIT,
  equalsLowered,
  FastQuery,
  Flag,
  headerResponse,
  lowerByte,
  OUR_UDP_PAYLOAD,
  parseFastQuery,
  skipName,
  udpLimit,
  writeFastAnswer,
} from "./wire.ts";
import type { FastEntry, Zone } from "./zone.ts";

/** What {@linkcode DnsHandler.handle} returns: bytes to send, nothing, or bytes later. */
export type DnsReply = Uint8Array | null | Promise<Uint8Array | null>;

/** Options of {@linkcode DnsHandler}. */
export interface DnsHandlerOptions {
  readonly zone: Zone;
  /** Upstream forwarding; null or omitted → names that are not ours get REFUSED. */
  readonly forwarder?: Forwarder | null;
  /** Who may use forwarding. @default new AllowList() (the documented default) */
  readonly allow?: AllowList;
  readonly metrics?: DnsMetrics;
  /** @default {nullLogger} */
  readonly log?: Logger;
  /** Use the allocation-free fast path for A queries (off only to compare in tests). @default true */
  readonly fastPath?: boolean;
}

function findFast(zone: Zone, query: Uint8Array, q: FastQuery): FastEntry | null {
  const nameLen = q.nameEnd - 12;
  let e = zone.fast.get(q.hash) ?? null;
  while (e !== null) {
    if (e.wire.length === nameLen && equalsLowered(query, 12, e.wire)) return e;
    e = e.next;
  }
  return null;
}

/**
 * A question the slow path forwarded under the current zone, remembered with its cache key so
 * the next identical question is answered from the cache without decoding it or building the
 * key string. Chained on name-hash collisions; dropped whenever the zone changes.
 */
interface ForwardedQuestion {
  /** Lowercased wire-format name. */
  readonly wire: Uint8Array;
  readonly type: number;
  readonly class: number;
  readonly dnssecOk: boolean;
  /** The query's CD bit, part of the cache key (see {@linkcode cacheKey}). */
  readonly checkingDisabled: boolean;
  /** {@linkcode cacheKey} of the question. */
  readonly key: string;
  readonly next: ForwardedQuestion | null;
}

/** Remembered forwarded questions at most (then the memo starts over). */
const MAX_FORWARDED_QUESTIONS = 10_000;

function findForwarded(
  memo: ReadonlyMap<number, ForwardedQuestion>,
  query: Uint8Array,
  q: FastQuery,
): ForwardedQuestion | null {
  const nameLen = q.nameEnd - 12;
  const dnssecOk = q.edns && (q.ednsFlags & DO_BIT) !== 0;
  const checkingDisabled = (q.flags & Flag.CD) !== 0;
  let e = memo.get(q.hash) ?? null;
  while (e !== null) {
    if (
      e.type === q.qtype && e.class === q.qclass && e.dnssecOk === dnssecOk &&
      e.checkingDisabled === checkingDisabled && e.wire.length === nameLen &&
      equalsLowered(query, 12, e.wire)
    ) {
      return e;
    }
    e = e.next;
  }
  return null;
}

/** Offset past the first question, or 0 when there is none or it is malformed. */
function questionEndOf(query: Uint8Array): number {
  if (query.length < 12 || ((query[4]! << 8) | query[5]!) === 0) return 0;
  const o = skipName(query, 12, query.length);
  return o < 0 || o + 4 > query.length ? 0 : o + 4;
}

/** The per-server query handler; `setZone` swaps the data atomically. */
export class DnsHandler {
  #zone: Zone;
  readonly #forwarder: Forwarder | null;
  readonly #allow: AllowList;
  readonly #metrics: DnsMetrics | null;
  readonly #log: Logger;
  /** Reused fast-path parse state; `handle` is synchronous up to its first await. */
  readonly #fq = new FastQuery();
  readonly #fast: boolean;
  /** Questions forwarded under the current zone (see {@linkcode ForwardedQuestion}). */
  #forwarded = new Map<number, ForwardedQuestion>();
  #forwardedCount = 0;

  constructor(options: DnsHandlerOptions) {
    this.#zone = options.zone;
    this.#forwarder = options.forwarder ?? null;
    this.#allow = options.allow ?? new AllowList();
    this.#metrics = options.metrics ?? null;
    this.#log = options.log ?? nullLogger;
    this.#fast = options.fastPath ?? true;
  }

  /** The zone answers come from. */
  get zone(): Zone {
    return this.#zone;
  }

  /** Replaces the zone; queries already being handled finish with the old one. */
  setZone(zone: Zone): void {
    this.#zone = zone;
    // A new service may make a forwarded name ours.
    this.#forwarded = new Map();
    this.#forwardedCount = 0;
  }

  /** The allow-list (to refresh the node's addresses). */
  get allow(): AllowList {
    return this.#allow;
  }

  /** Whether recursion is available to `client` (the RA bit). */
  recursionAvailable(client: string): boolean {
    return this.#forwarder !== null && this.#forwarder.available && this.#allow.allows(client);
  }

  /**
   * Handles one query from `client` (its IP address). Never throws.
   * @param out a buffer the fast path may write into; the returned view then aliases it and is
   *   valid until the next call with the same buffer. Without it the answer is a new array.
   */
  handle(query: Uint8Array, client: string, tcp: boolean, out?: Uint8Array): DnsReply {
    const len = query.length;
    if (len < 12 || (query[2]! & 0x80) !== 0) {
      this.#metrics?.dropped(); // unreadable header, or a response: never answer (no loops)
      return null;
    }
    const fq = this.#fq;
    const parsed = this.#fast && parseFastQuery(query, len, fq);
    if (parsed) {
      if (fq.qtype === RRType.A && fq.qclass === RRClass.IN) {
        const entry = findFast(this.#zone, query, fq);
        if (entry !== null) {
          const limit = tcp ? MAX_MESSAGE_SIZE : udpLimit(fq.edns, fq.udpPayloadSize);
          const ra = this.recursionAvailable(client);
          const buf = out ?? new Uint8Array(fq.questionEnd + entry.answer.length + 11);
          const n = writeFastAnswer(buf, query, fq, entry.answer, entry.count, ra, limit);
          if (n > 0) {
            this.#metrics?.count(RRType.A, Rcode.NOERROR);
            return buf.subarray(0, n);
          }
        }
      }
      if (this.#forwarded.size > 0) {
        const reply = this.#fromCache(query, client, tcp, out);
        if (reply !== null) return reply;
      }
    }
    try {
      return this.#slow(query, client, tcp, parsed);
    } catch (err) {
      this.#log.debug("query failed", { client, error: err });
      this.#metrics?.count(-1, Rcode.SERVFAIL);
      return headerResponse(query, Rcode.SERVFAIL, {
        questionEnd: questionEndOf(query),
        recursionAvailable: this.recursionAvailable(client),
      });
    }
  }

  /**
   * A remembered forwarded question answered from the forwarder's cache, synchronously; null
   * when it is not remembered, not cached (any more), or the client may not use forwarding
   * (the slow path then decides). Uses the parse state in `#fq`.
   */
  #fromCache(query: Uint8Array, client: string, tcp: boolean, out?: Uint8Array): Uint8Array | null {
    const forwarder = this.#forwarder;
    if (forwarder === null) return null;
    const fq = this.#fq;
    const fw = findForwarded(this.#forwarded, query, fq);
    if (fw === null || !this.#allow.allows(client)) return null;
    const entry = forwarder.cached(fw.key);
    if (entry === null) return null;
    const limit = tcp ? MAX_MESSAGE_SIZE : udpLimit(fq.edns, fq.udpPayloadSize);
    const size = renderedSize(entry, fq.edns);
    const rcode = entry.bytes[3]! & 0xf;
    this.#metrics?.count(fq.qtype, rcode);
    if (size > limit) {
      return headerResponse(query, rcode, {
        questionEnd: fq.questionEnd,
        truncated: true,
        recursionAvailable: true,
        edns: fq.edns ? { dnssecOk: fw.dnssecOk } : null,
      });
    }
    const buf = out !== undefined && out.length >= size ? out : new Uint8Array(size);
    const n = forwarder.renderInto(entry, query, fq.questionEnd, fq.edns, fw.dnssecOk, buf);
    return buf.subarray(0, n);
  }

  /** Remembers a question the slow path forwards (parse state in `#fq`). */
  #rememberForwarded(
    query: Uint8Array,
    dnssecOk: boolean,
    checkingDisabled: boolean,
    key: string,
  ): void {
    const fq = this.#fq;
    if (findForwarded(this.#forwarded, query, fq) !== null) return;
    if (this.#forwardedCount >= MAX_FORWARDED_QUESTIONS) {
      this.#forwarded = new Map();
      this.#forwardedCount = 0;
    }
    const wire = new Uint8Array(fq.nameEnd - 12);
    for (let i = 0; i < wire.length; i++) wire[i] = lowerByte(query[12 + i]!);
    this.#forwarded.set(fq.hash, {
      wire,
      type: fq.qtype,
      class: fq.qclass,
      dnssecOk,
      checkingDisabled,
      key,
      next: this.#forwarded.get(fq.hash) ?? null,
    });
    this.#forwardedCount++;
  }

  #slow(query: Uint8Array, client: string, tcp: boolean, parsed: boolean): DnsReply {
    // RA describes the server for this client (RFC 1035 §4.1.1), so every reply carries the
    // same bit, errors included; headerResponse copies ID, opcode, RD and CD.
    const ra = this.recursionAvailable(client);
    let msg: DnsMessage;
    try {
      msg = decodeMessage(query).value;
    } catch (err) {
      if (!(err instanceof DnsFormatError)) throw err;
      this.#log.debug("malformed query", { client, error: err });
      this.#metrics?.count(-1, Rcode.FORMERR);
      return headerResponse(query, Rcode.FORMERR, { recursionAvailable: ra });
    }
    const qEnd = msg.questions.length === 1 ? questionEndOf(query) : 0;
    const q0 = msg.questions[0];
    if (msg.opcode !== Opcode.QUERY) {
      this.#metrics?.count(q0?.type ?? -1, Rcode.NOTIMP);
      return headerResponse(query, Rcode.NOTIMP, { questionEnd: qEnd, recursionAvailable: ra });
    }
    if (msg.questions.length !== 1 || q0 === undefined) {
      this.#metrics?.count(-1, Rcode.FORMERR);
      return headerResponse(query, Rcode.FORMERR, { recursionAvailable: ra });
    }
    const edns = msg.edns;
    if (edns !== null && edns.version > 0) {
      this.#metrics?.count(q0.type, Rcode.BADVERS);
      return headerResponse(query, Rcode.BADVERS, {
        questionEnd: qEnd,
        recursionAvailable: ra,
        edns: { dnssecOk: edns.dnssecOk },
      });
    }
    const limit = tcp ? MAX_MESSAGE_SIZE : udpLimit(edns !== null, edns?.udpPayloadSize ?? 0);
    const res = resolve(q0, this.#zone);
    if (res.kind === "answer") {
      // The caller may reuse `query`'s buffer as soon as we return: async paths take a copy.
      if (res.chase !== null && ra) return this.#chase(query.slice(), msg, q0, qEnd, res, limit);
      return this.#encodeLocal(query, msg, q0, qEnd, res, limit, ra);
    }
    if (this.#forwarder === null || !this.#forwarder.available || !this.#allow.allows(client)) {
      this.#metrics?.refused();
      this.#metrics?.count(q0.type, Rcode.REFUSED);
      return headerResponse(query, Rcode.REFUSED, {
        questionEnd: qEnd,
        recursionAvailable: ra, // false here: this client may not use forwarding
        edns: edns ? { dnssecOk: edns.dnssecOk } : null,
      });
    }
    const name = q0.name.toLowerCase();
    const dnssecOk = edns?.dnssecOk ?? false;
    const req: ForwardRequest = {
      query: query.slice(),
      questionEnd: qEnd,
      name,
      type: q0.type,
      class: q0.class,
      edns: edns !== null,
      dnssecOk,
      limit,
    };
    const metrics = this.#metrics;
    const key = cacheKey(name, q0.type, q0.class, dnssecOk, msg.checkingDisabled);
    if (parsed) this.#rememberForwarded(query, dnssecOk, msg.checkingDisabled, key);
    return this.#forwarder.forward(req, key).then(
      (bytes) => {
        metrics?.count(q0.type, bytes[3]! & 0xf);
        return bytes;
      },
    );
  }

  #encodeLocal(
    query: Uint8Array,
    msg: DnsMessage,
    q: DnsQuestion,
    qEnd: number,
    res: Pick<LocalAnswer, "rcode" | "authoritative" | "answers" | "authorities" | "additionals">,
    limit: number,
    ra: boolean,
  ): Uint8Array {
    this.#metrics?.count(q.type, res.rcode);
    const edns = msg.edns
      ? { udpPayloadSize: OUR_UDP_PAYLOAD, version: 0, dnssecOk: msg.edns.dnssecOk }
      : null;
    const init = {
      id: msg.id,
      response: true,
      opcode: Opcode.QUERY,
      authoritative: res.authoritative,
      recursionDesired: msg.recursionDesired,
      recursionAvailable: ra,
      checkingDisabled: msg.checkingDisabled,
      rcode: res.rcode,
      questions: [q],
      answers: res.answers,
      authorities: res.authorities,
      additionals: res.additionals,
      edns,
    };
    let bytes = encodeMessage(init);
    // Additional records are optional: drop them before truncating (RFC 2181 §9).
    if (bytes.length > limit && res.additionals.length > 0) {
      bytes = encodeMessage({ ...init, additionals: [] });
    }
    if (bytes.length > limit) {
      return headerResponse(query, res.rcode, {
        questionEnd: qEnd,
        truncated: true,
        authoritative: res.authoritative,
        recursionAvailable: ra,
        edns: edns ? { dnssecOk: edns.dnssecOk } : null,
      });
    }
    // Echo the question exactly as sent (the codec re-spells names it cannot represent).
    if (qEnd > 12 && questionEndOf(bytes) === qEnd) bytes.set(query.subarray(12, qEnd), 12);
    return bytes;
  }

  /** Resolves an ExternalName's CNAME target upstream and appends the answer (spec §2.5). */
  async #chase(
    query: Uint8Array,
    msg: DnsMessage,
    q: DnsQuestion,
    qEnd: number,
    res: LocalAnswer,
    limit: number,
  ): Promise<Uint8Array> {
    const forwarder = this.#forwarder!;
    const target = res.chase!;
    const dnssecOk = msg.edns?.dnssecOk ?? false;
    let extra: { rcode: number; answers: DnsRecord[]; authorities: DnsRecord[] } | null = null;
    try {
      const sub = encodeMessage({
        id: 0,
        recursionDesired: true,
        questions: [{ name: target, type: q.type, class: q.class }],
      });
      const req: ForwardRequest = {
        query: sub,
        questionEnd: sub.length,
        name: target,
        type: q.type,
        class: q.class,
        edns: false,
        dnssecOk,
        limit: MAX_MESSAGE_SIZE,
      };
      // The sub-query asks for recursion without CD: validated data, fine for any client.
      const key = cacheKey(target, q.type, q.class, dnssecOk, false);
      const entry = await forwarder.lookup(req, key);
      if (entry !== null) {
        const up = decodeMessage(forwarder.render(entry, req)).value;
        // Records the codec cannot carry losslessly (RAW) are left out of the merged answer.
        extra = {
          rcode: up.rcode,
          answers: up.answers.filter((r) => r.type !== "RAW"),
          authorities: up.authorities.filter((r) => r.type !== "RAW"),
        };
      }
    } catch (err) {
      this.#log.debug("CNAME target lookup failed", { target, error: err });
    }
    const merged = extra === null ? res : {
      rcode: extra.rcode,
      authoritative: res.authoritative,
      answers: [...res.answers, ...extra.answers],
      authorities: extra.authorities,
      additionals: res.additionals,
    };
    return this.#encodeLocal(query, msg, q, qEnd, merged, limit, true);
  }
}
