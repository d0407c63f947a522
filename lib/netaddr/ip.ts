// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * An IP address of either family as a typed value, so callers branch on `family` instead of
 * looking for dots and colons in strings.
 * @module
 */
import { formatIpv4, type Ipv4Options, parseIpv4 } from "./ipv4.ts";
import { formatIpv6, type Ipv6Options, parseIpv6 } from "./ipv6.ts";

/** An IPv4 address; `address` is the unsigned 32-bit number. */
export interface Ipv4Address {
  readonly family: 4;
  readonly address: number;
}

/** An IPv6 address; `groups` are its eight 16-bit groups. */
export interface Ipv6Address {
  readonly family: 6;
  readonly groups: readonly number[];
}

/** An IP address of either family. */
export type IpAddress = Ipv4Address | Ipv6Address;

/** Options of {@linkcode parseIp}: those of both families. */
export type IpOptions = Ipv4Options & Ipv6Options;

/** Parses an IPv4 or IPv6 literal (no brackets, no zone index), or returns null. */
export function parseIp(text: string, options: IpOptions = {}): IpAddress | null {
  if (text.includes(":")) {
    const groups = parseIpv6(text, options);
    return groups === null ? null : { family: 6, groups };
  }
  const address = parseIpv4(text, options);
  return address === null ? null : { family: 4, address };
}

/** Canonical text of `ip` (dotted quad, or RFC 5952 for IPv6). */
export function formatIp(ip: IpAddress): string {
  return ip.family === 4 ? formatIpv4(ip.address) : formatIpv6(ip.groups);
}

/**
 * `ip` as its IPv4 address when it is IPv4-mapped IPv6 (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2),
 * as a dual-stack socket reports an IPv4 peer; else `ip` itself.
 */
export function unmapIpv4(ip: IpAddress): IpAddress {
  if (ip.family === 4) return ip;
  const g = ip.groups;
  if (!(g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff)) return ip;
  return { family: 4, address: (g[6]! << 16 | g[7]!) >>> 0 };
}

/** Address length in bits: 32 or 128. */
export function ipBits(family: 4 | 6): 32 | 128 {
  return family === 4 ? 32 : 128;
}
