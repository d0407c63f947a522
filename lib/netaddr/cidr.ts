// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * CIDR prefixes (RFC 4632 for IPv4, RFC 4291 §2.3 for IPv6): parsing with the policies the
 * callers need (host bits rejected, masked or kept; a bare address as a host route; one family
 * only), containment and formatting.
 *
 * {@linkcode readCidr} returns the problem as data, for validators that collect every issue;
 * {@linkcode parseCidr} throws `SyntaxError`/`RangeError` for callers that stop at the first.
 * @module
 */
import { formatIp, type IpAddress, ipBits, type IpOptions, parseIp } from "./ip.ts";

/** An IPv4 prefix: `address` is the (network) address as an unsigned 32-bit number. */
export interface Ipv4Cidr {
  readonly family: 4;
  readonly address: number;
  /** Prefix length, 0–32. */
  readonly prefix: number;
}

/** An IPv6 prefix: `groups` are the eight 16-bit groups of the (network) address. */
export interface Ipv6Cidr {
  readonly family: 6;
  readonly groups: readonly number[];
  /** Prefix length, 0–128. */
  readonly prefix: number;
}

/** A prefix of either family. */
export type Cidr = Ipv4Cidr | Ipv6Cidr;

/**
 * Why {@linkcode readCidr} rejected a text: not an address (`syntax`), a bad or missing prefix
 * length (`prefix`), the other family than `options.family` (`family`), or host bits set under
 * `hostBits: "reject"` (with the network the text probably meant).
 */
export type CidrProblem =
  | { readonly kind: "syntax" }
  | { readonly kind: "prefix" }
  | { readonly kind: "family" }
  | { readonly kind: "hostBits"; readonly network: Cidr };

/** Options of {@linkcode readCidr} and {@linkcode parseCidr}; those of `parseIp` apply too. */
export interface CidrOptions extends IpOptions {
  /** Accept only this family (others are a `family` problem). @default both */
  readonly family?: 4 | 6;
  /**
   * Addresses with bits set past the prefix (`10.1.2.3/8`): `"reject"` them (what `ip` and
   * Kubernetes `--service-cluster-ip-range` expect of a network), `"mask"` them to the network,
   * or `"keep"` the address as written (containment ignores those bits anyway).
   * @default "reject"
   */
  readonly hostBits?: "reject" | "mask" | "keep";
  /** Accept an address without `/n` as a host route (/32, /128). @default false */
  readonly bare?: boolean;
  /**
   * Reads the address part instead of `parseIp` (callers that accept brackets, zone indices or
   * IPv4-mapped addresses, as sockets report them).
   */
  readonly parseAddress?: (text: string) => IpAddress | null;
}

const PREFIX = /^\d{1,3}$/;
const STRICT_PREFIX = /^(0|[1-9]\d{0,2})$/;

/** Whether `v` is a parsed prefix rather than a {@linkcode CidrProblem}. */
export function isCidr(v: Cidr | CidrProblem): v is Cidr {
  return "prefix" in v;
}

/** `ip` with every bit past `prefix` cleared, as a prefix. */
export function maskCidr(ip: IpAddress, prefix: number): Cidr {
  if (ip.family === 4) {
    return { family: 4, address: ip.address - (ip.address % 2 ** (32 - prefix)), prefix };
  }
  const groups = ip.groups.map((g, i) => g & groupMask(prefix - 16 * i));
  return { family: 6, groups, prefix };
}

/** The mask of one 16-bit group that keeps its first `bits` bits (clamped to 0–16). */
function groupMask(bits: number): number {
  const b = Math.max(0, Math.min(16, bits));
  return (0xffff << (16 - b)) & 0xffff;
}

/** Parses `<address>/<prefix>` under `options`; returns the prefix or why it is not one. */
export function readCidr(text: string, options: CidrOptions = {}): Cidr | CidrProblem {
  const slash = text.indexOf("/");
  if (slash < 0 && !options.bare) return { kind: "syntax" };
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const ip = options.parseAddress ? options.parseAddress(addrText) : parseIp(addrText, options);
  if (ip === null) return { kind: "syntax" };
  if (options.family !== undefined && ip.family !== options.family) return { kind: "family" };
  const max = ipBits(ip.family);
  let prefix: number = max;
  if (slash >= 0) {
    const prefixText = text.slice(slash + 1);
    const syntax = options.strict ? STRICT_PREFIX : PREFIX;
    if (!syntax.test(prefixText) || Number(prefixText) > max) return { kind: "prefix" };
    prefix = Number(prefixText);
  }
  const hostBits = options.hostBits ?? "reject";
  if (hostBits === "keep") return { ...ip, prefix };
  const network = maskCidr(ip, prefix);
  if (hostBits === "reject" && !sameAddress(network, ip)) return { kind: "hostBits", network };
  return network;
}

function sameAddress(a: IpAddress, b: IpAddress): boolean {
  if (a.family === 4) return b.family === 4 && a.address === b.address;
  return b.family === 6 && a.groups.every((g, i) => g === b.groups[i]);
}

/**
 * Parses `<address>/<prefix>` under `options`, naming the value `what` in errors
 * (`Cannot parse subnet "9.251.1.0/16": host bits are set (network is 9.251.0.0/16)`).
 * @throws {SyntaxError} when `text` is not a prefix (of `options.family`)
 * @throws {RangeError} when host bits are set and `options.hostBits` is `"reject"`
 */
export function parseCidr(
  text: string,
  options: CidrOptions & { readonly family: 4; readonly what?: string },
): Ipv4Cidr;
export function parseCidr(
  text: string,
  options: CidrOptions & { readonly family: 6; readonly what?: string },
): Ipv6Cidr;
export function parseCidr(
  text: string,
  options?: CidrOptions & { readonly what?: string },
): Cidr;
export function parseCidr(
  text: string,
  options: CidrOptions & { readonly what?: string } = {},
): Cidr {
  const got = readCidr(text, options);
  if (isCidr(got)) return got;
  const head = `Cannot parse ${options.what ?? "CIDR"} ${JSON.stringify(text)}`;
  if (got.kind === "hostBits") {
    throw new RangeError(`${head}: host bits are set (network is ${formatCidr(got.network)})`);
  }
  const form = options.family === undefined ? "a CIDR" : `an IPv${options.family} CIDR`;
  throw new SyntaxError(`${head}: not ${form}`);
}

/** Whether `ip` lies inside `cidr` (false when the families differ). Host bits are ignored. */
export function cidrContains(cidr: Cidr, ip: IpAddress): boolean {
  if (cidr.family === 4 || ip.family === 4) {
    if (cidr.family !== 4 || ip.family !== 4) return false;
    const size = 2 ** (32 - cidr.prefix);
    return Math.floor(cidr.address / size) === Math.floor(ip.address / size);
  }
  for (let i = 0; i < 8 && 16 * i < cidr.prefix; i++) {
    const mask = groupMask(cidr.prefix - 16 * i);
    if ((cidr.groups[i]! & mask) !== (ip.groups[i]! & mask)) return false;
  }
  return true;
}

/** Number of addresses in an IPv4 prefix, network and broadcast included (2^(32-prefix)). */
export function ipv4CidrSize(cidr: Ipv4Cidr): number {
  return 2 ** (32 - cidr.prefix);
}

/** Canonical text of `cidr`, e.g. `9.251.0.0/16` or `fd00::/64`. */
export function formatCidr(cidr: Cidr): string {
  return `${formatIp(cidr)}/${cidr.prefix}`;
}
