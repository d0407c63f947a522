// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Whether the address `tunnelListen` binds is still the node's. A tunnel bound to one address
 * (a multi-homed box that serves peers on one uplink only) goes deaf when that address leaves
 * the node (a DHCP lease moved, the uplink went away): the socket stays open, no error is raised,
 * and the agent went on saying `Tunnel: up` while no peer could reach it; only the peers'
 * `tunnel peer down` told (QA pass). {@linkcode startListenAddressWatch} looks every
 * {@linkcode LISTEN_WATCH_MS} at the node's addresses: one warning when the address goes, one
 * info line when it is back, and `missing()` for `ctl status`. A wildcard `tunnelListen`
 * (`0.0.0.0`, `::`) has nothing to watch. The socket itself needs nothing: it serves again as
 * soon as the address is back.
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { formatIp, parseHostPort, parseIp, specialIpKind } from "../netaddr/mod.ts";
import { nodeAddresses } from "../sys/netif.ts";
import type { IntervalTimers } from "./heap_trim.ts";

/** How often the node's addresses are looked at, ms (as the device watch does). */
export const LISTEN_WATCH_MS = 5_000;

/**
 * The address `listen` (`host:port`) binds when it is one address: null for a wildcard (`0.0.0.0`,
 * `::`, every address) and for what is not an address.
 */
export function boundAddress(listen: string): string | null {
  let host: string;
  try {
    host = parseHostPort(listen).host;
  } catch {
    return null;
  }
  const ip = parseIp(host);
  return ip === null || specialIpKind(ip) === "unspecified" ? null : host;
}

/**
 * The address `listen` binds (see {@linkcode boundAddress}) when `addresses` (the node's, as
 * `Deno.networkInterfaces()` spells them) lack it; else null. Compared as addresses, so `::0:1`
 * is `::1`.
 */
export function missingListenAddress(listen: string, addresses: readonly string[]): string | null {
  const host = boundAddress(listen);
  if (host === null) return null;
  const canonical = formatIp(parseIp(host)!);
  const same = (a: string) => {
    const ip = parseIp(a.split("%")[0]!);
    return ip !== null && formatIp(ip) === canonical;
  };
  return addresses.some(same) ? null : host;
}

/** Options of {@linkcode startListenAddressWatch}. */
export interface ListenAddressWatchOptions {
  /** Config `tunnelListen`. */
  readonly listen: string;
  /** The node's addresses. @default nodeAddresses (lib/sys/netif.ts) */
  readonly addresses?: () => readonly string[];
  readonly log: Logger;
  /** @default LISTEN_WATCH_MS */
  readonly intervalMs?: number;
  /** @default globalThis */
  readonly timers?: IntervalTimers;
}

/** A running watch: what is missing now, and `close()`. */
export interface ListenAddressWatch {
  readonly name: string;
  /** The watched address when the node lacked it at the last look, else null. */
  missing(): string | null;
  close(): void;
}

/** Starts the watch (see the module docs); it looks once at once. */
export function startListenAddressWatch(options: ListenAddressWatchOptions): ListenAddressWatch {
  const timers = options.timers ?? globalThis;
  let missing: string | null = null;
  const look = () => {
    const now = missingListenAddress(options.listen, (options.addresses ?? nodeAddresses)());
    if (now !== null && missing === null) {
      options.log.warn(
        "The address tunnelListen binds is not on this node: peers cannot reach this agent",
        {
          address: now,
          tunnelListen: options.listen,
          fix: "bring the address back (the tunnel serves again at once), or set tunnelListen " +
            "to 0.0.0.0 to serve on every address",
        },
      );
    } else if (now === null && missing !== null) {
      options.log.info("The address tunnelListen binds is back: peers can reach this agent", {
        address: missing,
      });
    }
    missing = now;
  };
  look();
  const timer = timers.setInterval(look, options.intervalMs ?? LISTEN_WATCH_MS);
  return {
    name: "tunnel listen address",
    missing: () => missing,
    close: () => timers.clearInterval(timer),
  };
}
