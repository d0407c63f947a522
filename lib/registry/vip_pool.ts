// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Virtual-IP allocation from one IPv4 subnet.
 *
 * The original edgemesh pool grew in batches of 20 and reset its size counter, so past 40
 * services it handed out addresses that were still in use. This pool is a bitmap over the whole
 * subnet: an address is either free or owned by exactly one service key.
 *
 * Layout of a subnet such as `9.251.0.0/16`: the network address (`.0.0`) is never used, the
 * first host address (`9.251.0.1`) is reserved for the DNS server ({@linkcode dnsAddress}), the
 * broadcast address (`9.251.255.255`) is never handed out; VIPs come from `.0.2` upward.
 *
 * Allocation is next-fit: a cursor moves past the last allocation and wraps, so an address
 * released a moment ago is the last to be reused (clients may still hold it in DNS caches).
 *
 * Addresses the node itself holds on other interfaces ({@linkcode VipPool.setReserved}, given by
 * the agent) are skipped by new allocations: the same address on `edge0` too would exist twice on
 * the node, and the proxy's listener and the other interface would fight over it. A service that
 * holds such an address already keeps it (restored state, or the address appeared later): a VIP
 * never moves under its clients.
 * @module
 */

import { formatIpv4, ipv4CidrSize, parseCidr, parseIpv4 } from "../netaddr/mod.ts";

export { formatIpv4, parseIpv4 };

/** A parsed IPv4 CIDR. */
export interface Ipv4Subnet {
  /** The network address as an unsigned 32-bit integer. */
  readonly network: number;
  /** Prefix length, 0–32. */
  readonly prefix: number;
  /** Number of addresses in the subnet, network and broadcast included. */
  readonly total: number;
  /** Canonical text, e.g. `9.251.0.0/16`. */
  readonly cidr: string;
}

/** Smallest and largest prefix a VIP subnet may have (a /30 holds exactly one VIP). */
export const MIN_VIP_PREFIX = 8;
/** See {@linkcode MIN_VIP_PREFIX}. */
export const MAX_VIP_PREFIX = 30;

/**
 * Parses an IPv4 CIDR such as `9.251.0.0/16`. Host bits must be zero, as `ip` and
 * Kubernetes `--service-cluster-ip-range` expect a network address.
 * @throws {SyntaxError} when `text` is not an IPv4 CIDR
 * @throws {RangeError} when host bits are set
 */
export function parseSubnet(text: string): Ipv4Subnet {
  const c = parseCidr(text, { family: 4, what: "subnet" });
  return {
    network: c.address,
    prefix: c.prefix,
    total: ipv4CidrSize(c),
    cidr: `${formatIpv4(c.address)}/${c.prefix}`,
  };
}

/**
 * The address reserved for the DNS server: the first host address of `subnet`
 * (`9.251.0.1` for `9.251.0.0/16`). The config default of `dnsListen` uses it.
 * @throws {SyntaxError | RangeError} when `subnet` is not a valid IPv4 CIDR
 */
export function dnsAddress(subnet: string): string {
  return formatIpv4(parseSubnet(subnet).network + 1);
}

/** Whether `ip` lies inside `subnet` (both given as text); false for non-IPv4 input. */
export function subnetContains(subnet: Ipv4Subnet, ip: string): boolean {
  const n = parseIpv4(ip);
  return n !== null && n >= subnet.network && n < subnet.network + subnet.total;
}

/**
 * The subnet has no free address left for `service`. A subclass of `RangeError` so callers
 * (control replies, `ctl get`) can branch on it.
 */
export class PoolExhaustedError extends RangeError {
  /** Key (`namespace/name`) of the service that did not get a VIP. */
  readonly service: string;
  /** The subnet in CIDR form. */
  readonly subnet: string;
  constructor(service: string, subnet: string, options?: ErrorOptions) {
    super(`Cannot allocate VIP for "${service}": subnet ${subnet} is full`, options);
    this.name = "PoolExhaustedError";
    this.service = service;
    this.subnet = subnet;
  }
}

/**
 * Usage numbers of a pool (for `ctl status -o json`'s callers and the `edgemesh_vip_pool_*`
 * gauges). `size = used + reserved + free`: an address is assigned to a service, held by the
 * node and by no service, or free.
 */
export interface PoolStats {
  /** Addresses that can be handed out (total minus network, DNS and broadcast). */
  readonly size: number;
  /** Addresses currently assigned (one the node also holds elsewhere included). */
  readonly used: number;
  /** Addresses the node holds on another interface that no service holds: never handed out. */
  readonly reserved: number;
}

/**
 * The VIP pool: assignments `service key → VIP` over a bitmap of the subnet.
 * Every operation is O(1) except `allocate`, which scans from the cursor to the next free
 * address (amortised O(1) while the pool is not nearly full, bounded by the pool size).
 */
export class VipPool {
  /** The parsed subnet. */
  readonly subnet: Ipv4Subnet;
  /** Addresses that can be handed out. */
  readonly size: number;
  readonly #owners: (string | undefined)[];
  readonly #byKey = new Map<string, number>();
  /** Offsets of the addresses the node holds on other interfaces ({@linkcode setReserved}). */
  #reserved: ReadonlySet<number> = new Set();
  /** How many of `#reserved` no service owns (neither used nor free). */
  #reservedFree = 0;
  /** Offsets (from the network address) of the first and last assignable address. */
  readonly #first = 2;
  readonly #last: number;
  #cursor = 2;

  /**
   * @throws {SyntaxError | RangeError} when `subnet` is not an IPv4 CIDR with a prefix
   *   between /8 and /30
   */
  constructor(subnet: string) {
    const parsed = parseSubnet(subnet);
    if (parsed.prefix < MIN_VIP_PREFIX || parsed.prefix > MAX_VIP_PREFIX) {
      throw new RangeError(
        `Cannot use subnet ${
          JSON.stringify(subnet)
        } for VIPs: prefix must be between /${MIN_VIP_PREFIX} and /${MAX_VIP_PREFIX}`,
      );
    }
    this.subnet = parsed;
    this.#last = parsed.total - 2;
    this.size = this.#last - this.#first + 1;
    this.#owners = new Array(parsed.total);
  }

  /** Current usage. */
  stats(): PoolStats {
    return { size: this.size, used: this.#byKey.size, reserved: this.#reservedFree };
  }

  /** Number of assigned addresses. */
  get used(): number {
    return this.#byKey.size;
  }

  /** Addresses the node holds that no service holds (see {@linkcode PoolStats.reserved}). */
  get reserved(): number {
    return this.#reservedFree;
  }

  /** Addresses {@linkcode allocate} can still hand out: neither assigned nor reserved. */
  get free(): number {
    return this.size - this.#byKey.size - this.#reservedFree;
  }

  /**
   * Replaces the set of addresses the node holds on interfaces other than the VIP device, which
   * {@linkcode allocate} skips from now on. Addresses outside the assignable range (another
   * subnet, the network, DNS or broadcast address, not an address) are ignored. An address a
   * service holds already stays that service's; {@linkcode reserve} (restoring state, undoing a
   * release) ignores the set, so replaying the journal gives the same assignments whatever the
   * node holds. Returns whether the set changed.
   */
  setReserved(addresses: Iterable<string>): boolean {
    const next = new Set<number>();
    for (const a of addresses) {
      const off = this.#offset(a);
      if (off !== null) next.add(off);
    }
    if (next.size === this.#reserved.size && [...next].every((o) => this.#reserved.has(o))) {
      return false;
    }
    this.#reserved = next;
    this.#reservedFree = 0;
    for (const off of next) if (this.#owners[off] === undefined) this.#reservedFree++;
    return true;
  }

  /** Whether the node holds `vip` on another interface (see {@linkcode setReserved}). */
  isReserved(vip: string): boolean {
    const off = this.#offset(vip);
    return off !== null && this.#reserved.has(off);
  }

  /** Offset the next allocation starts searching from (persisted so restarts keep next-fit). */
  get cursor(): number {
    return this.#cursor;
  }
  set cursor(offset: number) {
    this.#cursor = Number.isInteger(offset) && offset >= this.#first && offset <= this.#last
      ? offset
      : this.#first;
  }

  /** The VIP of `key`, or undefined. */
  get(key: string): string | undefined {
    const off = this.#byKey.get(key);
    return off === undefined ? undefined : formatIpv4(this.subnet.network + off);
  }

  /** The key owning `vip`, or undefined. */
  owner(vip: string): string | undefined {
    const off = this.#offset(vip);
    return off === null ? undefined : this.#owners[off];
  }

  /** All assignments `key → VIP`, in allocation-table order. */
  assignments(): Map<string, string> {
    const out = new Map<string, string>();
    for (const [k, off] of this.#byKey) out.set(k, formatIpv4(this.subnet.network + off));
    return out;
  }

  /**
   * Gives `key` a VIP: its current one if it has one, else the next free address at or after
   * the cursor (wrapping), skipping the reserved ones. Moves the cursor past the new address.
   * @throws {PoolExhaustedError} when no address is free (every remaining one may be reserved)
   */
  allocate(key: string): string {
    const existing = this.get(key);
    if (existing !== undefined) return existing;
    if (this.free <= 0) throw new PoolExhaustedError(key, this.subnet.cidr);
    let off = this.#cursor;
    while (this.#owners[off] !== undefined || this.#reserved.has(off)) {
      off = off >= this.#last ? this.#first : off + 1;
    }
    this.#owners[off] = key;
    this.#byKey.set(key, off);
    this.#cursor = off >= this.#last ? this.#first : off + 1;
    return formatIpv4(this.subnet.network + off);
  }

  /**
   * Assigns a specific `vip` to `key` (restoring persisted state). Returns false, changing
   * nothing, when `vip` is outside the assignable range or owned by another key; a key that
   * already has another VIP gives it up. A reserved address is assigned too: a service keeps
   * the VIP it had though the node now holds it elsewhere.
   */
  reserve(key: string, vip: string): boolean {
    const off = this.#offset(vip);
    if (off === null) return false;
    const owner = this.#owners[off];
    if (owner === key) return true;
    if (owner !== undefined) return false;
    this.release(key);
    this.#owners[off] = key;
    this.#byKey.set(key, off);
    if (this.#reserved.has(off)) this.#reservedFree--;
    return true;
  }

  /** Frees the VIP of `key`; returns it, or undefined when `key` had none. */
  release(key: string): string | undefined {
    const off = this.#byKey.get(key);
    if (off === undefined) return undefined;
    this.#byKey.delete(key);
    this.#owners[off] = undefined;
    if (this.#reserved.has(off)) this.#reservedFree++;
    return formatIpv4(this.subnet.network + off);
  }

  /** Offset of an assignable `vip` inside the subnet, or null. */
  #offset(vip: string): number | null {
    const n = parseIpv4(vip);
    if (n === null) return null;
    const off = n - this.subnet.network;
    return off >= this.#first && off <= this.#last ? off : null;
  }
}
