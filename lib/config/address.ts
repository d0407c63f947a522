// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Small, pure parsers for the address syntaxes the configuration accepts: IPv4/IPv6
 * literals, CIDR prefixes (RFC 4632, RFC 4291 §2.3) and `host:port` listen addresses
 * (RFC 3986 §3.2.2 brackets for IPv6). They return `null` instead of throwing so the
 * validator can collect every problem at once.
 * @module
 */

/** A parsed CIDR prefix. */
export interface Cidr {
  readonly family: 4 | 6;
  /** Network address bytes (4 or 16). */
  readonly bytes: Uint8Array;
  readonly prefix: number;
}

/** A parsed `host:port`. */
export interface HostPort {
  /** The host without brackets. */
  readonly host: string;
  readonly port: number;
}

/** Parses a dotted-quad IPv4 address (no leading zeros, as Go's `net.ParseIP`), or null. */
export function parseIPv4(s: string): Uint8Array | null {
  const parts = s.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

/** Parses an IPv6 address (RFC 4291 §2.2, including `::` and an embedded IPv4 tail), or null. */
export function parseIPv6(s: string): Uint8Array | null {
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return null;
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const groups = (part: string): number[] | null => {
    if (part === "") return [];
    const out: number[] = [];
    const items = part.split(":");
    for (let i = 0; i < items.length; i++) {
      const g = items[i]!;
      if (i === items.length - 1 && g.includes(".")) {
        const v4 = parseIPv4(g);
        if (!v4) return null;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(g)) out.push(parseInt(g, 16));
      else return null;
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return null;
  const total = head.length + tail.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return null;
  const all = [...head, ...new Array<number>(8 - total).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return bytes;
}

/** Parses an IPv4 or IPv6 literal, or null. */
export function parseIP(s: string): Uint8Array | null {
  return s.includes(":") ? parseIPv6(s) : parseIPv4(s);
}

/** Formats IPv4 bytes as a dotted quad. */
export function formatIPv4(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 4)).join(".");
}

/** Why a CIDR string was rejected: not one at all, or host bits set (with the fixed form). */
export type CidrProblem =
  | { readonly kind: "syntax" }
  | { readonly kind: "hostBits"; readonly network: string };

/** Parses `<address>/<prefix>`; host bits must be zero. Returns the Cidr or the problem. */
export function parseCidr(s: string): Cidr | CidrProblem {
  const m = /^([^/]+)\/(0|[1-9][0-9]{0,2})$/.exec(s);
  if (!m) return { kind: "syntax" };
  const addr = parseIP(m[1]!);
  const prefix = Number(m[2]);
  if (!addr || prefix > addr.length * 8) return { kind: "syntax" };
  const net = addr.slice();
  for (let bit = prefix; bit < net.length * 8; bit++) {
    net[bit >> 3] = net[bit >> 3]! & ~(0x80 >> (bit & 7));
  }
  if (!net.every((b, i) => b === addr[i])) {
    const text = net.length === 4 ? formatIPv4(net) : m[1]!;
    return { kind: "hostBits", network: `${text}/${prefix}` };
  }
  return { family: addr.length === 4 ? 4 : 6, bytes: net, prefix };
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
  const b = cidr.bytes.slice();
  for (let i = 3; i >= 0; i--) {
    b[i] = (b[i]! + 1) & 0xff;
    if (b[i] !== 0) break;
  }
  return formatIPv4(b);
}

/**
 * Parses `host:port` (IPv6 hosts in brackets). The host must be an IP literal unless
 * `allowNames` is set (then DNS names like `node-1.example` pass too). With `defaultPort`,
 * a bare host is accepted. Returns null on syntax errors; the port range is checked by the
 * caller so it can report "out of range" separately.
 */
export function parseHostPort(
  s: string,
  opts: { allowNames?: boolean; defaultPort?: number } = {},
): HostPort | null {
  let host: string;
  let portText: string | undefined;
  const bracket = /^\[([^\]]+)\](?::([0-9]+))?$/.exec(s);
  if (bracket) {
    host = bracket[1]!;
    portText = bracket[2];
    if (!parseIPv6(host)) return null;
  } else {
    const colons = s.split(":").length - 1;
    if (colons === 0) host = s;
    else if (colons === 1) [host, portText] = s.split(":") as [string, string];
    else if (opts.defaultPort !== undefined && parseIPv6(s)) host = s; // bare IPv6, no port
    else return null;
    if (!parseIPv4(host) && !(opts.allowNames && isDnsName(host))) return null;
  }
  if (portText === undefined) {
    if (opts.defaultPort === undefined) return null;
    return { host, port: opts.defaultPort };
  }
  if (!/^[0-9]{1,5}$/.test(portText)) return null;
  return { host, port: Number(portText) };
}

/** Whether `s` is a DNS name (RFC 1123 labels, dot separated, optional trailing dot). */
export function isDnsName(s: string): boolean {
  const name = s.endsWith(".") ? s.slice(0, -1) : s;
  if (name.length === 0 || name.length > 253) return false;
  return name.split(".").every((l) => /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/.test(l));
}
