// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Notices, within seconds, that the VIP device lost what the agent put on it: the device was
 * deleted or set down (`ip link set edge0 down`), an address removed, the device replaced by
 * another one. The reconcile loop repairs all of that whenever it runs (a change, a retry, the
 * 30 s resync), but until then no VIP or only some answer while `/readyz` says `[+]device ok`.
 * A cheap look every few seconds asks for the repair at once, and `/readyz` looks again
 * whenever it is asked: the addresses from the interface list (`Deno.networkInterfaces()`,
 * getifaddrs(3): no process, no netlink dump of its own) and the link's `IFF_UP` flag from one
 * `ioctl(SIOCGIFFLAGS)` through the C library (`lib/sys/netif.ts`), which getifaddrs does not
 * give. Without FFI the flag cannot be read, and a device set down is noticed only by the
 * resync, as before.
 *
 * The same look hands the node's whole interface list to `onInterfaces` (the agent keeps new
 * VIPs off the node's own addresses with it, `node_vips.ts`): one getifaddrs read every 5 s
 * serves both.
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { type InterfaceAddress, interfaceAddresses, interfaceUp } from "../sys/mod.ts";
import type { IntervalTimers } from "./heap_trim.ts";

/** How often the device is looked at, ms. */
export const DEVICE_WATCH_MS = 5_000;

/** Options of {@linkcode startDeviceWatch}. */
export interface DeviceWatchOptions {
  /** The device name (config `device`). */
  readonly device: string;
  /** The IPv4 addresses the agent holds on the device now (`NetDev.addresses()`). */
  readonly wanted: () => ReadonlySet<string>;
  /** The IPv4 addresses listed on `device`. @default {@linkcode listedAddresses} */
  readonly listed?: (device: string) => ReadonlySet<string>;
  /**
   * Whether `device` is up (`IFF_UP`); null when that cannot be told (no FFI, no such device),
   * and then only the addresses count. @default interfaceUp (lib/sys/netif.ts)
   */
  readonly up?: (device: string) => boolean | null;
  /** The node's interface list, read once per look. @default interfaceAddresses (lib/sys) */
  readonly interfaces?: () => readonly InterfaceAddress[];
  /**
   * Called at every look with the interface list it read (the agent's reserved VIPs,
   * `node_vips.ts`). An error it throws is logged; the watch goes on.
   */
  readonly onInterfaces?: (list: readonly InterfaceAddress[]) => void;
  /** Called at every look that finds damage (the agent schedules a full pass). */
  readonly onDamage: () => void;
  readonly log: Logger;
  /** @default {DEVICE_WATCH_MS} */
  readonly intervalMs?: number;
  /** The interval timer (tests drive a fake one). @default globalThis */
  readonly timers?: IntervalTimers;
}

/** What a look found wrong with the device. */
export interface DeviceDamage {
  /** The device is there but administratively down (`IFF_UP` clear). */
  readonly down: boolean;
  /** How many of the wanted addresses are not on the device. */
  readonly missing: number;
}

/** A running device watch. */
export interface DeviceWatch {
  readonly name: string;
  /** Looks now: what is wrong with the device, or null when it is intact. */
  damage(): DeviceDamage | null;
  close(): void;
}

/** The IPv4 addresses getifaddrs(3) lists on `device` (none when it does not exist). */
export function listedAddresses(device: string): ReadonlySet<string> {
  return ipv4On(interfaceAddresses(), device);
}

/** The IPv4 addresses of `device` in an interface list. */
function ipv4On(list: readonly InterfaceAddress[], device: string): ReadonlySet<string> {
  const out = new Set<string>();
  for (const i of list) if (i.name === device && i.family === "IPv4") out.add(i.address);
  return out;
}

/** `the device is down`, `2 addresses are missing`, or both, for logs and status. */
export function describeDamage(d: DeviceDamage): string {
  const missing = d.missing === 0
    ? ""
    : d.missing === 1
    ? "1 address is missing"
    : `${d.missing} addresses are missing`;
  if (!d.down) return missing;
  return missing === "" ? "the device is down" : `the device is down and ${missing}`;
}

/**
 * Looks at the device every `intervalMs`; while it is damaged (down, or wanted addresses
 * missing), `onDamage` runs at each look. One warning when the damage appears or changes kind
 * (down, addresses missing), one line when it is gone.
 */
export function startDeviceWatch(options: DeviceWatchOptions): DeviceWatch {
  const interfaces = options.interfaces ?? interfaceAddresses;
  const up = options.up ?? interfaceUp;
  const timers = options.timers ?? globalThis;
  /** Damage seen in `list` (null: read it when needed), or the injected `listed`. */
  const damageIn = (list: readonly InterfaceAddress[] | null): DeviceDamage | null => {
    const wanted = options.wanted();
    let missing = 0;
    if (wanted.size > 0) {
      const there = options.listed
        ? options.listed(options.device)
        : ipv4On(list ?? interfaces(), options.device);
      for (const ip of wanted) if (!there.has(ip)) missing++;
    }
    const down = up(options.device) === false;
    return down || missing > 0 ? { down, missing } : null;
  };
  const damage = () => damageIn(null);
  /** The kind of the damage last seen (`down`, `missing`, `down+missing`), "" when intact. */
  let seen = "";
  const timer = timers.setInterval(() => {
    // Read once here when both need it; else the damage check reads it only when it must.
    const list = options.onInterfaces ? interfaces() : null;
    if (list !== null && options.onInterfaces) {
      try {
        options.onInterfaces(list);
      } catch (error) {
        options.log.error("Cannot use the node's interface list", { error });
      }
    }
    const d = damageIn(list);
    const kind = d === null ? "" : `${d.down ? "down" : ""}+${d.missing > 0 ? "missing" : ""}`;
    if (d !== null && kind !== seen) {
      options.log.warn(
        d.down
          ? "The device is down; repairing it now"
          : "Addresses are missing from the device; repairing it now",
        {
          device: options.device,
          problem: describeDamage(d),
          ...(d.missing > 0 ? { missing: d.missing } : {}),
        },
      );
    } else if (d === null && seen !== "") {
      options.log.info("The device is whole again", { device: options.device });
    }
    seen = kind;
    if (d !== null) options.onDamage();
  }, options.intervalMs ?? DEVICE_WATCH_MS);
  return {
    name: "device watch",
    damage,
    close: () => timers.clearInterval(timer),
  };
}
