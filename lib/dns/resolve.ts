// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The pure core of the DNS server: one question and the {@linkcode Zone} in, the records to
 * answer (or "forward") out. No bytes, no sockets, no clock.
 *
 * Names compare case-insensitively (RFC 4343) with or without the trailing dot. Owner names in
 * the answer repeat the question's spelling, so clients matching answers to questions
 * byte-for-byte (0x20 case randomisation) accept them.
 * @module
 */
import {
  type DnsQuestion,
  type DnsRecord,
  Rcode,
  RRClass,
  RRType,
  type SoaRecord,
} from "./message.ts";
import type { Zone, ZoneNode } from "./zone.ts";

/** What to do with a question. */
export type Resolution = LocalAnswer | { readonly kind: "forward" };

/** An answer from our own data (the cluster zone, our PTRs, or a short service name). */
export interface LocalAnswer {
  readonly kind: "answer";
  /** NOERROR (also NODATA), NXDOMAIN, SERVFAIL (a CNAME loop) or REFUSED. */
  readonly rcode: number;
  /** AA: we are the authority for everything we answer locally. */
  readonly authoritative: boolean;
  readonly answers: readonly DnsRecord[];
  /**
   * The zone SOA for NXDOMAIN and NODATA (RFC 2308 §2) when the name they speak for (the
   * last owner of the chain) is inside the zone; empty otherwise (see {@linkcode resolve}).
   */
  readonly authorities: readonly DnsRecord[];
  /** Glue: the A/AAAA records of SRV targets (spec §2.3.2, §2.4.2). */
  readonly additionals: readonly DnsRecord[];
  /**
   * When the answer ends in a CNAME to a name outside our data and the question was not for
   * CNAME: the target the server may resolve upstream and append (an ExternalName service).
   */
  readonly chase: string | null;
}

/**
 * Longest CNAME chain followed inside our own data; a longer chain (of distinct names) ends
 * with what was collected, NOERROR. Loops are found before that (see {@linkcode resolve}).
 */
const MAX_CHAIN = 8;

const POD_LABEL = /^(\d{1,3})-(\d{1,3})-(\d{1,3})-(\d{1,3})$/;

function strip(name: string): string {
  return name.endsWith(".") ? name.slice(0, -1) : name;
}

function soaRecord(zone: Zone): SoaRecord {
  return {
    type: "SOA",
    name: zone.domain,
    class: RRClass.IN,
    ttl: zone.ttl,
    ...zone.soa,
  };
}

/** Whether `name` (lowercase, no trailing dot) is the zone apex or below it. */
export function inZone(zone: Zone, name: string): boolean {
  return name === zone.domain || name.endsWith(`.${zone.domain}`);
}

/** The A address of a deprecated pod record `a-b-c-d.<ns>.pod.<zone>` (spec §2.6), or null. */
function podAddress(zone: Zone, name: string): string | null | "ent" {
  const suffix = `.pod.${zone.domain}`;
  if (name === `pod.${zone.domain}`) return "ent";
  if (!name.endsWith(suffix)) return null;
  const labels = name.slice(0, -suffix.length).split(".");
  if (labels.length === 1) return "ent"; // `<ns>.pod.<zone>`
  if (labels.length !== 2) return null;
  const m = POD_LABEL.exec(labels[0]!);
  if (!m) return null;
  const octets = m.slice(1).map(Number);
  if (octets.some((o) => o > 255)) return null;
  return octets.join(".");
}

function recordsAt(
  zone: Zone,
  owner: string,
  node: ZoneNode,
  type: number,
  additionals: DnsRecord[],
): DnsRecord[] {
  const base = { name: owner, class: RRClass.IN, ttl: zone.ttl };
  const out: DnsRecord[] = [];
  const any = type === RRType.ANY;
  if (any || type === RRType.A) {
    for (const address of node.a) out.push({ ...base, type: "A", address });
  }
  if (any || type === RRType.AAAA) {
    for (const address of node.aaaa) out.push({ ...base, type: "AAAA", address });
  }
  if (any || type === RRType.SRV) {
    for (const s of node.srv) {
      out.push({ ...base, type: "SRV", ...s });
      const target = zone.names.get(s.target);
      if (target) {
        for (const address of target.a) {
          if (
            !additionals.some((r) => r.name === s.target && r.type === "A" && r.address === address)
          ) {
            additionals.push({ ...base, name: s.target, type: "A", address });
          }
        }
        for (const address of target.aaaa) {
          if (
            !additionals.some((r) =>
              r.name === s.target && r.type === "AAAA" && r.address === address
            )
          ) {
            additionals.push({ ...base, name: s.target, type: "AAAA", address });
          }
        }
      }
    }
  }
  if (any || type === RRType.PTR) {
    for (const target of node.ptr) out.push({ ...base, type: "PTR", target });
  }
  if (any || type === RRType.TXT) {
    if (node.txt.length > 0) out.push({ ...base, type: "TXT", texts: node.txt });
  }
  if ((any || type === RRType.SOA) && node.apex) out.push(soaRecord(zone));
  return out;
}

/**
 * @param last the name the answer ends at (the question, or the last CNAME target). The answer
 *   is negative when it is NXDOMAIN or has no record at `last` (NODATA, also after a CNAME
 *   chain, RFC 2308 §2.2), and then carries the zone SOA only when `last` is in the zone
 *   (RFC 2308 §2.1, §2.2, §3).
 */
function answer(
  zone: Zone,
  last: string,
  rcode: number,
  answers: DnsRecord[],
  additionals: DnsRecord[] = [],
  chase: string | null = null,
): LocalAnswer {
  const lastName = last.toLowerCase();
  const negative = rcode === Rcode.NXDOMAIN ||
    (rcode === Rcode.NOERROR && chase === null &&
      !answers.some((r) => r.name.toLowerCase() === lastName));
  return {
    kind: "answer",
    rcode,
    authoritative: rcode !== Rcode.REFUSED,
    answers,
    authorities: negative && inZone(zone, lastName) ? [soaRecord(zone)] : [],
    additionals,
    chase,
  };
}

/**
 * Answers one question from the zone, or says it must be forwarded.
 *
 * - Names under `zone.domain`, our PTR names and short service names are ours (AA set).
 * - A short name (`<svc>.<ns>`, `<svc>.<ns>.svc`, and `<svc>` for `defaultNamespace`) is ours
 *   exactly while that service exists, whatever its type; otherwise it is forwarded. While it
 *   exists it shadows the real name spelled the same: Service `example` in a namespace `test`
 *   makes `example.test` ours (a namespace named like a top-level domain; see the README).
 * - Known name, other type → NOERROR with no answers (NODATA) and the SOA in authority;
 *   unknown name in the zone → NXDOMAIN with the SOA (RFC 2308).
 * - The SOA goes only with names inside the zone. A short name (`web`, `web.default`) is
 *   answered at that name itself, not through a CNAME to its FQDN, and our PTR names live in
 *   `in-addr.arpa`/`ip6.arpa`: `<zone>` is not a parent of either, and an SOA names the zone
 *   of the name it speaks for (RFC 2308 §3), so their NODATA and NXDOMAIN answers carry no SOA
 *   (RFC 2308 §2.1/§2.2 "type 3"; downstream caches then do not cache them, §5). Where a CNAME
 *   chain starting at a short name ends inside the zone, the SOA speaks for that last name.
 * - Zone transfers and classes other than IN/ANY inside the zone → REFUSED.
 * - CNAME chains (ExternalName services naming cluster names) are followed inside our data,
 *   each name once: a CNAME whose target was already visited (`a → a`, `a → b → a`) ends the
 *   answer with SERVFAIL and the CNAMEs so far, each once. RFC 1034 §3.6.2: "CNAME chains
 *   should be followed and CNAME loops signalled as an error"; recursive resolvers answer a
 *   loop with SERVFAIL too. (CoreDNS's `kubernetes` plugin instead drops the chain and answers
 *   NODATA, which hides the misconfiguration behind an ordinary empty answer.)
 */
export function resolve(question: DnsQuestion, zone: Zone): Resolution {
  const asked = strip(question.name);
  let name = asked.toLowerCase();
  const alias = zone.aliases.get(name);
  const ours = alias !== undefined || zone.names.has(name) || inZone(zone, name);
  if (!ours) return { kind: "forward" };
  if (
    (question.class !== RRClass.IN && question.class !== RRClass.ANY) ||
    question.type === RRType.AXFR || question.type === RRType.IXFR
  ) {
    return answer(zone, asked, Rcode.REFUSED, []);
  }
  if (alias !== undefined && !zone.names.has(name)) name = alias;

  let owner = asked;
  const answers: DnsRecord[] = [];
  const additionals: DnsRecord[] = [];
  /** Names whose CNAME is in `answers`; made only when a chain is followed (not per query). */
  let visited: string[] | null = null;
  for (let depth = 0; depth < MAX_CHAIN; depth++) {
    const node = zone.names.get(name);
    if (node === undefined) {
      const pod = podAddress(zone, name);
      if (pod === "ent") return answer(zone, owner, Rcode.NOERROR, answers);
      if (pod !== null) {
        if (question.type === RRType.A || question.type === RRType.ANY) {
          answers.push({ name: owner, class: RRClass.IN, ttl: zone.ttl, type: "A", address: pod });
        }
        return answer(zone, owner, Rcode.NOERROR, answers);
      }
      // An unknown name, or a CNAME target inside the zone that does not exist (the RCODE
      // describes the last name of the chain, RFC 6604 §2).
      return answer(zone, owner, Rcode.NXDOMAIN, answers);
    }
    if (node.cname !== null) {
      answers.push({
        name: owner,
        class: RRClass.IN,
        ttl: zone.ttl,
        type: "CNAME",
        target: node.cname,
      });
      if (question.type === RRType.CNAME) return answer(zone, owner, Rcode.NOERROR, answers);
      const target = node.cname;
      if (!zone.names.has(target) && !inZone(zone, target)) {
        return answer(zone, target, Rcode.NOERROR, answers, additionals, target);
      }
      (visited ??= []).push(name);
      if (visited.includes(target)) {
        // A loop: every CNAME of it is in `answers` once; following on would repeat them.
        return answer(zone, target, Rcode.SERVFAIL, answers, additionals);
      }
      owner = target;
      name = target;
      continue;
    }
    answers.push(...recordsAt(zone, owner, node, question.type, additionals));
    return answer(zone, owner, Rcode.NOERROR, answers, additionals);
  }
  // A chain longer than MAX_CHAIN (loops ended above): give what we have.
  return answer(zone, owner, Rcode.NOERROR, answers, additionals);
}
