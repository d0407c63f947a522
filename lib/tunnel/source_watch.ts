// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Whether a tunnel connection still has its source address. A TCP connection keeps the local
 * address it was opened from; when that address leaves the node (a DHCP lease moved, a modem
 * unplugged, an uplink's address deleted), Linux keeps the socket, and every stream on it stalls
 * without an error until the dialer's heartbeat gives up (about 25 s, and then the peer is
 * wrongly marked down) or TCP keepalive does (about a minute); the next dial waited its 2 s
 * timeout on it (QA in network namespaces, `README.md` "QA: uplink changes").
 *
 * `PeerPool` asks whether each connection's source is still the node's every
 * {@linkcode SourceWatchPolicy.intervalMs} while it has connections, before choosing a
 * connection for a dial (at most once per {@linkcode SourceWatchPolicy.dialLookMs}), and when a
 * dial on a connection failed, and closes each connection whose source is gone:
 * its streams fail at once (the proxy resets their clients) and new streams go to a fresh
 * connection from an address the node has now. The peer's health is left alone: it did nothing.
 * @module
 */
import { formatIp, parseIp, unmapIpv4 } from "../netaddr/mod.ts";
import { libc } from "../sys/libc.ts";
import { isLocalAddress, nodeAddresses } from "../sys/netif.ts";

/** When and how a connection's source address is checked (`TunnelDialerOptions.sourceWatch`). */
export interface SourceWatchPolicy {
  /** How often while connections are open, ms. */
  readonly intervalMs: number;
  /** Before a dial, when the last look is at least this old, ms. */
  readonly dialLookMs: number;
  /**
   * Whether an address is still this node's; null when that cannot be told (then the
   * connection is left alone). @default {@linkcode isLocalSource}
   */
  readonly isLocal: (address: string) => boolean | null;
}

/**
 * The production check: the kernel is asked with a bind(2) per source address
 * (`isLocalAddress`, about 30 µs through FFI, whatever the number of the node's addresses);
 * without the C library, the node's address list (`Deno.networkInterfaces()`, compared with
 * {@linkcode sourceGone}; unknown without `--allow-sys=networkInterfaces`).
 */
export function isLocalSource(address: string): boolean | null {
  const c = libc(); // loaded once, on first use
  if (c !== null) return isLocalAddress(address, c);
  const addresses = nodeAddresses();
  return addresses.length === 0 ? null : !sourceGone(address, addresses);
}

/**
 * The production policy: every second while connections are open, before a dial when the
 * last look is 100 ms old or more, and when a dial failed: at most a dozen cheap checks a
 * second per dialer.
 */
export const DEFAULT_SOURCE_WATCH: SourceWatchPolicy = {
  intervalMs: 1_000,
  dialLookMs: 100,
  isLocal: isLocalSource,
};

/**
 * Whether `source`, a connection's local address as its socket reports it, is missing from
 * `addresses` (the node's). Compared as addresses: IPv4-mapped IPv6 is its IPv4 address, a zone
 * index is ignored, every IPv6 spelling is one. False when that cannot be told: no addresses
 * (unreadable), or a source that is not an address.
 */
export function sourceGone(source: string, addresses: readonly string[]): boolean {
  if (addresses.length === 0) return false;
  // The usual case, spelled alike: no parsing (a node may hold a VIP per service).
  if (addresses.includes(source)) return false;
  const key = addressKey(source);
  if (key === null) return false;
  return !addresses.some((a) => addressKey(a) === key);
}

function addressKey(text: string): string | null {
  const pct = text.indexOf("%");
  const ip = parseIp(pct >= 0 ? text.slice(0, pct) : text);
  return ip === null ? null : formatIp(unmapIpv4(ip));
}
