// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Which clients may use forwarding (config `dnsAllowFrom`), so the agent is never an open
 * resolver (RFC 5358). Cluster names are answered for everyone; only recursion is restricted.
 * @module
 */
import { expandIpv6 } from "./zone.ts";

/** Default `dnsAllowFrom`: loopback, the node's own addresses, private and CGNAT ranges, ULA. */
export const DEFAULT_DNS_ALLOW_FROM: readonly string[] = [
  "127.0.0.0/8",
  "::1/128",
  "node",
  "10.0.0.0/8",
  "172.16.0.0/12",
  "192.168.0.0/16",
  "100.64.0.0/10",
  "fc00::/7",
];

/** The keyword in `dnsAllowFrom` standing for every address of this node. */
export const NODE_KEYWORD = "node";

type Cidr =
  | { readonly v: 4; readonly addr: number; readonly bits: number }
  | { readonly v: 6; readonly groups: readonly number[]; readonly bits: number };

type Parsed =
  | { readonly v: 4; readonly addr: number }
  | { readonly v: 6; readonly groups: readonly number[] };

function parseV4(s: string): number | null {
  const parts = s.split(".");
  if (parts.length !== 4) return null;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    n = n * 256 + v;
  }
  return n;
}

/** Parses an IPv4 or IPv6 address; IPv4-mapped IPv6 (`::ffff:a.b.c.d`) becomes IPv4. */
function parseIp(raw: string): Parsed | null {
  let s = raw.trim();
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  const pct = s.indexOf("%");
  if (pct >= 0) s = s.slice(0, pct);
  const v4 = parseV4(s);
  if (v4 !== null) return { v: 4, addr: v4 };
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(s);
  if (mapped) {
    const m = parseV4(mapped[1]!);
    return m === null ? null : { v: 4, addr: m };
  }
  const groups = expandIpv6(s);
  return groups === null ? null : { v: 6, groups };
}

/**
 * Parses `a.b.c.d/n`, `x::/n` or a bare address (a host route).
 * @throws {TypeError} when the entry is neither
 */
export function parseCidr(entry: string): Cidr {
  const slash = entry.indexOf("/");
  const ipPart = slash >= 0 ? entry.slice(0, slash) : entry;
  const ip = parseIp(ipPart);
  if (ip === null) {
    throw new TypeError(`Cannot parse dnsAllowFrom entry "${entry}": not an address or CIDR`);
  }
  const max = ip.v === 4 ? 32 : 128;
  const bitsText = slash >= 0 ? entry.slice(slash + 1) : String(max);
  if (!/^\d{1,3}$/.test(bitsText) || Number(bitsText) > max) {
    throw new TypeError(`Cannot parse dnsAllowFrom entry "${entry}": bad prefix length`);
  }
  const bits = Number(bitsText);
  return ip.v === 4 ? { v: 4, addr: ip.addr, bits } : { v: 6, groups: ip.groups, bits };
}

function contains(c: Cidr, ip: Parsed): boolean {
  if (c.v === 4 && ip.v === 4) {
    if (c.bits === 0) return true;
    const shift = 32 - c.bits;
    return Math.floor(c.addr / 2 ** shift) === Math.floor(ip.addr / 2 ** shift);
  }
  if (c.v === 6 && ip.v === 6) {
    let left = c.bits;
    for (let i = 0; i < 8 && left > 0; i++) {
      const take = Math.min(16, left);
      const mask = (0xffff << (16 - take)) & 0xffff;
      if ((c.groups[i]! & mask) !== (ip.groups[i]! & mask)) return false;
      left -= take;
    }
    return true;
  }
  return false;
}

/** Addresses of this node's interfaces (the "node" keyword). */
export function denoNodeAddresses(): readonly string[] {
  try {
    return Deno.networkInterfaces().map((i) => i.address);
  } catch {
    return [];
  }
}

/** Options of {@linkcode AllowList}. */
export interface AllowListOptions {
  /** Resolves the "node" keyword. @default {denoNodeAddresses} */
  readonly nodeAddresses?: () => readonly string[];
}

/**
 * A parsed `dnsAllowFrom`. Decisions are memoised per client address (bounded), so the check
 * costs one `Map` lookup per packet.
 */
export class AllowList {
  readonly #cidrs: readonly Cidr[];
  readonly #useNode: boolean;
  readonly #nodeAddresses: () => readonly string[];
  #node: Cidr[] = [];
  #memo = new Map<string, boolean>();

  /** @throws {TypeError} for an entry that is not an address, CIDR or "node" */
  constructor(entries: readonly string[] = DEFAULT_DNS_ALLOW_FROM, options: AllowListOptions = {}) {
    this.#useNode = entries.some((e) => e.trim().toLowerCase() === NODE_KEYWORD);
    this.#cidrs = entries.filter((e) => e.trim().toLowerCase() !== NODE_KEYWORD).map((e) =>
      parseCidr(e.trim())
    );
    this.#nodeAddresses = options.nodeAddresses ?? denoNodeAddresses;
    this.refresh();
  }

  /** Re-reads the node's addresses (they change when VIPs are added). */
  refresh(): void {
    this.#memo = new Map();
    if (!this.#useNode) return;
    const out: Cidr[] = [];
    for (const a of this.#nodeAddresses()) {
      const ip = parseIp(a);
      if (ip) out.push(ip.v === 4 ? { ...ip, bits: 32 } : { ...ip, bits: 128 });
    }
    this.#node = out;
  }

  /** Whether `address` may use forwarding. */
  allows(address: string): boolean {
    const memo = this.#memo.get(address);
    if (memo !== undefined) return memo;
    const ip = parseIp(address);
    const ok = ip !== null &&
      (this.#cidrs.some((c) => contains(c, ip)) || this.#node.some((c) => contains(c, ip)));
    if (this.#memo.size >= 4096) this.#memo.clear();
    this.#memo.set(address, ok);
    return ok;
  }
}
