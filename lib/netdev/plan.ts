// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Pure planning for the VIP device: which /32 addresses to add and remove, and the
 * `ip -batch` lines that apply the plan. No I/O here; {@linkcode NetDev} is the shell.
 * @module
 */
import { cidrContains, isCidr, parseIp, parseIpv4, readCidr } from "../netaddr/mod.ts";

/** An IPv4 network in numeric form, e.g. `9.251.0.0/16`. */
export interface Ipv4Cidr {
  /** Network address as an unsigned 32-bit number. */
  readonly network: number;
  readonly prefixLen: number;
}

/** One address read back from the device (`ip -json addr show`, `addr_info[]`). */
export interface DeviceAddress {
  readonly ip: string;
  readonly prefixLen: number;
}

/** What {@linkcode planAddresses} decided; both lists are sorted numerically. */
export interface AddressPlan {
  /** Addresses to put on the device as /32 (`ip addr replace`). */
  readonly add: readonly string[];
  /** /32 addresses to remove (`ip addr del`). */
  readonly remove: readonly string[];
}

export { parseIpv4 };

/**
 * Parses an IPv4 CIDR such as `9.251.0.0/16`; host bits are masked off.
 * @throws {TypeError} when `cidr` is not an IPv4 CIDR
 */
export function parseCidr(cidr: string): Ipv4Cidr {
  const c = readCidr(cidr, { family: 4, hostBits: "mask" });
  if (!isCidr(c) || c.family !== 4) {
    throw new TypeError(`Cannot parse subnet "${cidr}": expected an IPv4 CIDR like 9.251.0.0/16`);
  }
  return { network: c.address, prefixLen: c.prefix };
}

/** Whether IPv4 address `ip` lies inside `cidr` (false for anything that is not IPv4). */
export function inCidr(ip: string, cidr: Ipv4Cidr): boolean {
  const addr = parseIp(ip);
  const net = { family: 4, address: cidr.network, prefix: cidr.prefixLen } as const;
  return addr !== null && cidrContains(net, addr);
}

/**
 * Reads the IPv4 addresses of a device from `ip -json addr show dev <dev>` output
 * (iproute2 prints `[{…, "addr_info": [{"family": "inet", "local": …, "prefixlen": …}]}]`).
 * @throws {SyntaxError} when the output is not that JSON shape
 */
export function parseAddrJson(stdout: string): DeviceAddress[] {
  return parseAddrShow(stdout).addresses;
}

/** What the shell reads from `ip -json addr show dev <dev>` about the device. */
export interface AddrShow {
  /** Administratively up (`flags` hold `UP`); output without flags counts as up. */
  readonly up: boolean;
  /** The kernel's interface index, or null when not printed. */
  readonly ifindex: number | null;
  /** The IPv4 addresses with their prefix length. */
  readonly addresses: DeviceAddress[];
}

/**
 * Reads `ip -json addr show dev <dev>` output in one parse: the device's IPv4 addresses, whether
 * it is up (only a clear "down" triggers a repair) and its index (a changed one means the device
 * was replaced).
 * @throws {SyntaxError} when the output is not a JSON array
 */
export function parseAddrShow(stdout: string): AddrShow {
  const text = stdout.trim();
  if (text === "") return { up: true, ifindex: null, addresses: [] };
  const doc: unknown = JSON.parse(text);
  if (!Array.isArray(doc)) {
    throw new SyntaxError('Cannot parse "ip -json addr show" output: expected a JSON array');
  }
  const addresses: DeviceAddress[] = [];
  for (const link of doc) {
    const info = (link as { addr_info?: unknown }).addr_info;
    if (!Array.isArray(info)) continue;
    for (const a of info) {
      const { family, local, prefixlen } = a as Record<string, unknown>;
      if (family === "inet" && typeof local === "string" && typeof prefixlen === "number") {
        addresses.push({ ip: local, prefixLen: prefixlen });
      }
    }
  }
  const first = (doc[0] ?? {}) as { flags?: unknown; ifindex?: unknown };
  return {
    up: !Array.isArray(first.flags) || first.flags.includes("UP"),
    ifindex: typeof first.ifindex === "number" ? first.ifindex : null,
    addresses,
  };
}

function byNumber(a: string, b: string): number {
  return (parseIpv4(a) ?? 0) - (parseIpv4(b) ?? 0) || (a < b ? -1 : a > b ? 1 : 0);
}

/** Options of {@linkcode planAddresses}. */
export interface PlanOptions {
  /**
   * Every /32 nobody wants is stale, outside the subnet too: the first pass on a device an
   * earlier run created and left behind (a crash, `kill -9`; its alias says so), whose
   * addresses, a `dnsListen` address no longer configured among them, no run will remove.
   * @default false
   */
  readonly sweep?: boolean;
}

/**
 * Desired vs actual addresses of the VIP device.
 *
 * Every desired address must be present as a /32. An actual address is removed only when it
 * is a /32 that nobody wants AND it is ours: inside `subnet`, or in `owned` (addresses this
 * run added outside the subnet, e.g. a DNS listen address), or any with `sweep` (what an
 * earlier run left on its device). Other prefix lengths are never touched, nor are IPv6
 * addresses (the kernel's link-local ones), which are not read at all; without `sweep`,
 * neither are /32s outside the subnet that this run did not add: they belong to someone else.
 */
export function planAddresses(
  desired: ReadonlySet<string>,
  actual: readonly DeviceAddress[],
  subnet: Ipv4Cidr,
  owned: ReadonlySet<string> = new Set(),
  options: PlanOptions = {},
): AddressPlan {
  const present = new Set<string>();
  const remove: string[] = [];
  for (const a of actual) {
    if (a.prefixLen !== 32) continue;
    present.add(a.ip);
    if (desired.has(a.ip)) continue;
    if (options.sweep || inCidr(a.ip, subnet) || owned.has(a.ip)) remove.push(a.ip);
  }
  const add: string[] = [];
  for (const ip of desired) if (!present.has(ip)) add.push(ip);
  return { add: add.sort(byNumber), remove: [...new Set(remove)].sort(byNumber) };
}

/** Most lines fed to one `ip -batch -` process; 1000 VIPs fit in one. */
export const DEFAULT_BATCH_LINES = 4096;

/** One `ip -batch -` process's input, with the addresses it adds and removes. */
export interface AddressBatch {
  readonly lines: readonly string[];
  /** Addresses its `addr replace` lines put on the device. */
  readonly add: readonly string[];
  /** Addresses its `addr del` lines remove. */
  readonly remove: readonly string[];
}

/**
 * The `ip -batch` input applying `plan` to `device`, split into chunks of at most `maxLines`
 * lines (one process per chunk). Removals come first so a full plan never briefly holds both.
 * `addr replace` is idempotent (ip-address(8)), so re-applying a plan is harmless.
 */
export function batchLines(
  plan: AddressPlan,
  device: string,
  maxLines: number = DEFAULT_BATCH_LINES,
): string[][] {
  return addressBatches(plan, device, maxLines).map((b) => [...b.lines]);
}

/**
 * {@linkcode batchLines} with the addresses of each chunk, so a caller that stops between
 * chunks knows what is on the device.
 */
export function addressBatches(
  plan: AddressPlan,
  device: string,
  maxLines: number = DEFAULT_BATCH_LINES,
): AddressBatch[] {
  const ops = [
    ...plan.remove.map((ip) => ({ ip, add: false })),
    ...plan.add.map((ip) => ({ ip, add: true })),
  ];
  const out: AddressBatch[] = [];
  for (let i = 0; i < ops.length; i += maxLines) {
    const chunk = ops.slice(i, i + maxLines);
    out.push({
      lines: chunk.map((o) => `addr ${o.add ? "replace" : "del"} ${o.ip}/32 dev ${device}`),
      add: chunk.filter((o) => o.add).map((o) => o.ip),
      remove: chunk.filter((o) => !o.add).map((o) => o.ip),
    });
  }
  return out;
}

/** What {@linkcode retainRemoved} decided. */
export interface Retention {
  /** The wanted addresses plus the removed ones still held. */
  readonly desired: ReadonlySet<string>;
  /** Held addresses → epoch ms until which they stay. */
  readonly retained: ReadonlyMap<string, number>;
  /** The earliest of those deadlines, or null when nothing is held. */
  readonly next: number | null;
}

/**
 * Keeps addresses that stop being wanted on the device for `holdMs` more: the VIP of a deleted
 * service must stay while the proxy drains its open connections (`drainGraceMs`), or their
 * packets, FIN included, stop being delivered and clients hang instead of seeing the close.
 * New connections to a held VIP are refused by the kernel (nothing listens), as for any closed
 * port. `owned` are the addresses we hold on the device now; `retained` the holds so far. An
 * address wanted again stops being held.
 */
export function retainRemoved(
  wanted: ReadonlySet<string>,
  owned: ReadonlySet<string>,
  retained: ReadonlyMap<string, number>,
  now: number,
  holdMs: number,
): Retention {
  const desired = new Set(wanted);
  const held = new Map<string, number>();
  let next: number | null = null;
  const hold = (ip: string, until: number) => {
    if (wanted.has(ip) || until <= now) return;
    held.set(ip, until);
    desired.add(ip);
    if (next === null || until < next) next = until;
  };
  for (const [ip, until] of retained) hold(ip, until);
  // An address held before starts no new hold: when its time is up it goes.
  if (holdMs > 0) { for (const ip of owned) if (!retained.has(ip)) hold(ip, now + holdMs); }
  return { desired, retained: held, next };
}
