// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Which clients may use forwarding (config `dnsAllowFrom`), so the agent is never an open
 * resolver (RFC 5358). Cluster names are answered for everyone; only recursion is restricted.
 * @module
 */
import { nodeAddresses } from "../sys/netif.ts";
import { DEFAULTS } from "../config/mod.ts";
import {
  type Cidr,
  cidrContains,
  type IpAddress,
  isCidr,
  parseIp,
  readCidr,
} from "../netaddr/mod.ts";

/**
 * Default `dnsAllowFrom` (the config default): loopback, the node's own addresses, private and
 * CGNAT ranges, ULA.
 */
export const DEFAULT_DNS_ALLOW_FROM: readonly string[] = DEFAULTS.dnsAllowFrom;

/** The keyword in `dnsAllowFrom` standing for every address of this node. */
export const NODE_KEYWORD = "node";

/** An entry of `dnsAllowFrom` as {@linkcode parseCidr} returns it. */
export type AllowCidr =
  | { readonly v: 4; readonly addr: number; readonly bits: number }
  | { readonly v: 6; readonly groups: readonly number[]; readonly bits: number };

/**
 * Reads an address as sockets and `Deno.networkInterfaces()` report it: brackets and a zone
 * index (`fe80::1%eth0`) are dropped, and IPv4-mapped IPv6 (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2,
 * what a dual-stack socket reports for IPv4 clients) becomes IPv4.
 */
function parseClientIp(raw: string): IpAddress | null {
  let s = raw.trim();
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  const pct = s.indexOf("%");
  if (pct >= 0) s = s.slice(0, pct);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(s);
  return parseIp(mapped ? mapped[1]! : s, { embeddedIpv4: false });
}

/** Parses one entry: a CIDR or a bare address (a host route); host bits are kept. */
function readEntry(entry: string): Cidr {
  const c = readCidr(entry, { bare: true, hostBits: "keep", parseAddress: parseClientIp });
  if (isCidr(c)) return c;
  const why = c.kind === "prefix" ? "bad prefix length" : "not an address or CIDR";
  throw new TypeError(`Cannot parse dnsAllowFrom entry "${entry}": ${why}`);
}

/**
 * Parses `a.b.c.d/n`, `x::/n` or a bare address (a host route).
 * @throws {TypeError} when the entry is neither
 */
export function parseCidr(entry: string): AllowCidr {
  const c = readEntry(entry);
  return c.family === 4
    ? { v: 4, addr: c.address, bits: c.prefix }
    : { v: 6, groups: c.groups, bits: c.prefix };
}

/** Options of {@linkcode AllowList}. */
export interface AllowListOptions {
  /** Resolves the "node" keyword. @default nodeAddresses (lib/sys/netif.ts) */
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
  /** The addresses `#node` was read from, sorted and joined: tells a change from a re-read. */
  #nodeKey: string | null = null;
  #memo = new Map<string, boolean>();

  /** @throws {TypeError} for an entry that is not an address, CIDR or "node" */
  constructor(entries: readonly string[] = DEFAULT_DNS_ALLOW_FROM, options: AllowListOptions = {}) {
    this.#useNode = entries.some((e) => e.trim().toLowerCase() === NODE_KEYWORD);
    this.#cidrs = entries.filter((e) => e.trim().toLowerCase() !== NODE_KEYWORD).map((e) =>
      readEntry(e.trim())
    );
    this.#nodeAddresses = options.nodeAddresses ?? nodeAddresses;
    this.refresh();
  }

  /** Whether the entries name the "node" keyword, whose addresses {@linkcode refresh} re-reads. */
  get followsNode(): boolean {
    return this.#useNode;
  }

  /**
   * Re-reads the node's addresses: VIPs come and go with services, and the node's own addresses
   * with a DHCP lease, a new uplink or a link going down. Returns whether they changed; the
   * decisions taken on the old ones are forgotten then.
   */
  refresh(): boolean {
    if (!this.#useNode) return false;
    const addresses = [...this.#nodeAddresses()];
    const key = addresses.sort().join(",");
    if (key === this.#nodeKey) return false;
    const out: Cidr[] = [];
    for (const a of addresses) {
      const ip = parseClientIp(a);
      if (ip) out.push(ip.family === 4 ? { ...ip, prefix: 32 } : { ...ip, prefix: 128 });
    }
    this.#node = out;
    this.#nodeKey = key;
    this.#memo = new Map();
    return true;
  }

  /** Whether `address` may use forwarding. */
  allows(address: string): boolean {
    const memo = this.#memo.get(address);
    if (memo !== undefined) return memo;
    const ip = parseClientIp(address);
    const ok = ip !== null &&
      (this.#cidrs.some((c) => cidrContains(c, ip)) ||
        this.#node.some((c) => cidrContains(c, ip)));
    if (this.#memo.size >= 4096) this.#memo.clear();
    this.#memo.set(address, ok);
    return ok;
  }
}
