// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Whether a network interface is up, read with one `ioctl(SIOCGIFFLAGS)` instead of an `ip`
 * process: the agent's device watch asks every 5 s (`lib/agent/device_watch.ts`), and
 * getifaddrs(3) (`Deno.networkInterfaces()`) lists addresses but not the link's flags.
 * @module
 */
import { type Libc, libc } from "./libc.ts";
import { formatIp, parseIp, unmapIpv4 } from "../netaddr/mod.ts";
import { AF_INET, bindSocket, SOCK_CLOEXEC } from "./sockaddr.ts";

const SOCK_DGRAM = 2;
/** `SIOCGIFFLAGS` (linux/sockios.h; the same number on x86_64 and aarch64). */
export const SIOCGIFFLAGS = 0x8913;
/** `IFF_UP` (net/if.h): the interface is administratively up (`ip link set … up`). */
export const IFF_UP = 0x1;
/** `IFNAMSIZ`: room for an interface name and its NUL. */
const IFNAMSIZ = 16;
/**
 * `struct ifreq` is 40 bytes on 64-bit Linux (x86_64 and aarch64): `ifr_name[16]`, then a union
 * whose largest member is `struct ifmap` (24 bytes with its padding); `short ifr_flags` is the
 * union's first two bytes, at offset 16, in the machine's byte order.
 */
export const IFREQ_SIZE = 40;
const IFR_FLAGS_OFFSET = IFNAMSIZ;

/**
 * The `IFF_*` flags of interface `name` in this process's network namespace, or null when they
 * cannot be read: no C library through FFI (no `--allow-ffi`, not Linux), no such interface
 * (`ENODEV`), or a name the kernel could not hold (empty, 16 bytes or more).
 */
export function interfaceFlags(name: string, c: Libc | null = libc()): number | null {
  if (c === null) return null;
  const bytes = new TextEncoder().encode(name);
  if (bytes.length === 0 || bytes.length >= IFNAMSIZ) return null;
  const ifr = new Uint8Array(IFREQ_SIZE);
  ifr.set(bytes); // NUL-terminated: the rest of the name field stays zero
  // Any AF_INET socket will do: the request names the interface, the socket only carries it.
  const fd = c.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return null;
  try {
    if (c.ioctl(fd, BigInt(SIOCGIFFLAGS), ifr) !== 0) return null;
  } finally {
    c.close(fd);
  }
  return new Uint16Array(ifr.buffer, IFR_FLAGS_OFFSET, 1)[0]!;
}

/**
 * Whether interface `name` is administratively up (`IFF_UP`), or null when that cannot be told
 * (see {@linkcode interfaceFlags}: no FFI, no such interface).
 */
export function interfaceUp(name: string, c: Libc | null = libc()): boolean | null {
  const flags = interfaceFlags(name, c);
  return flags === null ? null : (flags & IFF_UP) !== 0;
}

/** One address of one interface, as getifaddrs(3) lists it. */
export interface InterfaceAddress {
  /** The interface holding it (`eth1`). */
  readonly name: string;
  readonly family: "IPv4" | "IPv6";
  /** As `Deno.networkInterfaces()` spells it (an IPv6 one may carry a `%zone`). */
  readonly address: string;
}

/**
 * Every address of every interface of this node (`Deno.networkInterfaces()`, one getifaddrs(3)
 * call: no process, no netlink dump of its own); empty without the permission. One read serves
 * several users: the device watch checks the VIP device in it, and the agent finds the node's
 * addresses inside the VIP subnet there (`lib/agent/node_vips.ts`).
 */
export function interfaceAddresses(): readonly InterfaceAddress[] {
  try {
    return Deno.networkInterfaces().map((i) => ({
      name: i.name,
      family: i.family,
      address: i.address,
    }));
  } catch {
    return [];
  }
}

/**
 * The addresses of this node's interfaces, as `Deno.networkInterfaces()` spells them (getifaddrs
 * (3)); empty without the permission. What `dnsAllowFrom`'s `node` means, and what the tunnel's
 * listen address is checked against.
 */
export function nodeAddresses(): readonly string[] {
  return interfaceAddresses().map((i) => i.address);
}

/**
 * Whether `ip` is an address of this node, asked of the kernel: a datagram socket bound to it
 * (port 0) and closed. `EADDRNOTAVAIL` means it is not. Costs one socket and three calls
 * whatever the number of addresses the node holds, where `Deno.networkInterfaces()` lists them
 * all (1.7 ms with 1000 VIP addresses). IPv4-mapped IPv6 is asked as its IPv4 address.
 *
 * null when that cannot be told: no C library (no `--allow-ffi`, not Linux), not an address, or
 * another error (a link-local IPv6 address needs its zone: `EINVAL`). With
 * `net.ipv4.ip_nonlocal_bind=1` (or its IPv6 twin) every bind succeeds: then always true.
 */
export function isLocalAddress(ip: string, c: Libc | null = libc()): boolean | null {
  if (c === null) return null;
  const parsed = parseIp(ip);
  if (parsed === null) return null;
  try {
    const { fd } = bindSocket(c, SOCK_DGRAM | SOCK_CLOEXEC, formatIp(unmapIpv4(parsed)), 0, null);
    c.close(fd);
    return true;
  } catch (err) {
    return err instanceof Deno.errors.AddrNotAvailable ? false : null;
  }
}
