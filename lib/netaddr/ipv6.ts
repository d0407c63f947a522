// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * IPv6 addresses as eight 16-bit groups: parsing of the text forms of RFC 4291 §2.2 (`::`
 * compression, an optional dotted IPv4 tail) and the canonical text of RFC 5952.
 * @module
 */
import { parseIpv4 } from "./ipv4.ts";

/** Options of {@linkcode parseIpv6}. */
export interface Ipv6Options {
  /**
   * Accept a dotted IPv4 tail (`::ffff:192.0.2.1`, RFC 4291 §2.2 form 3). Its octets are read
   * strictly (no leading zeros). Callers that only see addresses in the form Kubernetes and
   * Deno print can switch it off.
   * @default true
   */
  readonly embeddedIpv4?: boolean;
}

const GROUP = /^[0-9a-fA-F]{1,4}$/;

function groupsOf(part: string, last: boolean, embeddedIpv4: boolean): number[] | null {
  if (part === "") return [];
  const out: number[] = [];
  const items = part.split(":");
  for (let i = 0; i < items.length; i++) {
    const g = items[i]!;
    if (GROUP.test(g)) out.push(parseInt(g, 16));
    else if (embeddedIpv4 && last && i === items.length - 1 && g.includes(".")) {
      const v4 = parseIpv4(g, { strict: true });
      if (v4 === null) return null;
      out.push(v4 >>> 16, v4 & 0xffff);
    } else return null;
  }
  return out;
}

/**
 * Parses an IPv6 address (RFC 4291 §2.2) into eight 16-bit groups, or null when it is not one.
 * Zone indices (`%eth0`) and brackets are not part of the address; strip them first.
 */
export function parseIpv6(text: string, options: Ipv6Options = {}): number[] | null {
  const embedded = options.embeddedIpv4 ?? true;
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const compressed = halves.length === 2;
  const head = groupsOf(halves[0]!, !compressed, embedded);
  const tail = compressed ? groupsOf(halves[1]!, true, embedded) : [];
  if (head === null || tail === null) return null;
  if (!compressed) return head.length === 8 ? head : null;
  const fill = 8 - head.length - tail.length;
  if (fill < 1) return null;
  return [...head, ...new Array<number>(fill).fill(0), ...tail];
}

/** Whether `text` is an IPv6 address. */
export function isIpv6(text: string, options: Ipv6Options = {}): boolean {
  return parseIpv6(text, options) !== null;
}

/**
 * The canonical text of an IPv6 address (RFC 5952 §4): lower-case hex without leading zeros,
 * the longest run of two or more zero groups (the first one on a tie) shortened to `::`.
 */
export function formatIpv6(groups: readonly number[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (gs: readonly number[]) => gs.map((g) => g.toString(16)).join(":");
  if (best < 0) return hex(groups.slice(0, 8));
  return `${hex(groups.slice(0, best))}::${hex(groups.slice(best + bestLen, 8))}`;
}

/** The sixteen network-order bytes of an IPv6 address (the `in6_addr` layout). */
export function ipv6ToBytes(groups: readonly number[]): Uint8Array {
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = (groups[i]! >> 8) & 0xff;
    out[2 * i + 1] = groups[i]! & 0xff;
  }
  return out;
}
