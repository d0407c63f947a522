// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The address parsers of the configuration in the byte-oriented shape this module has always
 * exported: IPv4/IPv6 literals, CIDR prefixes (RFC 4632, RFC 4291 §2.3) and `host:port` listen
 * addresses (RFC 3986 §3.2.2 brackets for IPv6). The parsing itself is `lib/netaddr` with the
 * configuration's policy: strict (no leading zeros, as Go's `net.ParseIP`) and `null` instead
 * of throwing, so the validator can collect every problem at once.
 * @module
 */
import {
  formatCidr,
  formatIpv4,
  type HostPort,
  ipv4FromBytes,
  ipv4ToBytes,
  ipv6ToBytes,
  isCidr as isNetCidr,
  isHostPort,
  parseIpv4,
  parseIpv6,
  readCidr,
  readHostPort,
} from "../netaddr/mod.ts";

export { isDnsName } from "../netaddr/mod.ts";
export type { HostPort };

/** A parsed CIDR prefix. */
export interface Cidr {
  readonly family: 4 | 6;
  /** Network address bytes (4 or 16). */
  readonly bytes: Uint8Array;
  readonly prefix: number;
}

/** Parses a dotted-quad IPv4 address (no leading zeros, as Go's `net.ParseIP`), or null. */
export function parseIPv4(s: string): Uint8Array | null {
  const n = parseIpv4(s, { strict: true });
  return n === null ? null : ipv4ToBytes(n);
}

/** Parses an IPv6 address (RFC 4291 §2.2, including `::` and an embedded IPv4 tail), or null. */
export function parseIPv6(s: string): Uint8Array | null {
  const groups = parseIpv6(s);
  return groups === null ? null : ipv6ToBytes(groups);
}

/** Parses an IPv4 or IPv6 literal, or null. */
export function parseIP(s: string): Uint8Array | null {
  return s.includes(":") ? parseIPv6(s) : parseIPv4(s);
}

/** Formats IPv4 bytes as a dotted quad. */
export function formatIPv4(bytes: Uint8Array): string {
  return formatIpv4(ipv4FromBytes(bytes));
}

/** Why a CIDR string was rejected: not one at all, or host bits set (with the fixed form). */
export type CidrProblem =
  | { readonly kind: "syntax" }
  | { readonly kind: "hostBits"; readonly network: string };

/** Parses `<address>/<prefix>`; host bits must be zero. Returns the Cidr or the problem. */
export function parseCidr(s: string): Cidr | CidrProblem {
  const c = readCidr(s, { strict: true });
  if (isNetCidr(c)) {
    const bytes = c.family === 4 ? ipv4ToBytes(c.address) : ipv6ToBytes(c.groups);
    return { family: c.family, bytes, prefix: c.prefix };
  }
  return c.kind === "hostBits"
    ? { kind: "hostBits", network: formatCidr(c.network) }
    : { kind: "syntax" };
}

/** Whether {@linkcode parseCidr} succeeded. */
export function isCidr(v: Cidr | CidrProblem): v is Cidr {
  return "bytes" in v;
}

/**
 * The first host address of an IPv4 prefix (network + 1), which edgemesh reserves for its
 * DNS server, as the original edgemesh listened on the first address of its subnet.
 */
export function firstHostIPv4(cidr: Cidr): string {
  return formatIpv4(ipv4FromBytes(cidr.bytes) + 1);
}

/**
 * Parses `host:port` (IPv6 hosts in brackets). The host must be an IP literal unless
 * `allowNames` is set (then DNS names like `node-1.example` pass too). With `defaultPort`,
 * a bare host (or bare IPv6 address) is accepted. Returns null on syntax errors; the port
 * range is checked by the caller so it can report "out of range" separately.
 */
export function parseHostPort(
  s: string,
  opts: { allowNames?: boolean; defaultPort?: number } = {},
): HostPort | null {
  const hp = readHostPort(s, {
    host: opts.allowNames ? "name" : "ip",
    defaultPort: opts.defaultPort,
    bareIpv6: true,
    minPort: 0,
  });
  if (isHostPort(hp)) return hp;
  return hp.kind === "portRange" ? { host: hp.host, port: hp.value } : null;
}
