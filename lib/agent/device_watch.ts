// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Notices, within seconds, that the VIP device lost what the agent put on it: the device was
 * deleted, an address removed, the device replaced by another one. The reconcile loop repairs
 * all of that whenever it runs (a change, a retry, the 30 s resync), but until then no VIP or
 * only some answer while `/readyz` says `[+]device ok`. A cheap look at the interface list
 * (`Deno.networkInterfaces()`, getifaddrs(3): no process, no netlink dump of its own) every few
 * seconds asks for the repair at once, and `/readyz` looks again whenever it is asked.
 * @module
 */
import type { Logger } from "../log/mod.ts";
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
  /** Called at every look that finds something missing (the agent schedules a full pass). */
  readonly onDamage: () => void;
  readonly log: Logger;
  /** @default {DEVICE_WATCH_MS} */
  readonly intervalMs?: number;
  /** The interval timer (tests drive a fake one). @default globalThis */
  readonly timers?: IntervalTimers;
}

/** A running device watch. */
export interface DeviceWatch {
  readonly name: string;
  /** Looks now: how many of the wanted addresses are not on the device (0: intact). */
  missing(): number;
  close(): void;
}

/** The IPv4 addresses getifaddrs(3) lists on `device` (none when it does not exist). */
export function listedAddresses(device: string): ReadonlySet<string> {
  const out = new Set<string>();
  for (const i of Deno.networkInterfaces()) {
    if (i.name === device && i.family === "IPv4") out.add(i.address);
  }
  return out;
}

/**
 * Looks at the device every `intervalMs`; while wanted addresses are missing, `onDamage` runs
 * at each look (one warning when the damage appears, one line when it is gone).
 */
export function startDeviceWatch(options: DeviceWatchOptions): DeviceWatch {
  const listed = options.listed ?? listedAddresses;
  const timers = options.timers ?? globalThis;
  const missing = (): number => {
    const wanted = options.wanted();
    if (wanted.size === 0) return 0;
    const there = listed(options.device);
    let n = 0;
    for (const ip of wanted) if (!there.has(ip)) n++;
    return n;
  };
  let damaged = false;
  const timer = timers.setInterval(() => {
    const n = missing();
    if (n > 0 && !damaged) {
      options.log.warn("Addresses are missing from the device; repairing it now", {
        device: options.device,
        missing: n,
      });
    } else if (n === 0 && damaged) {
      options.log.info("The device is whole again", { device: options.device });
    }
    damaged = n > 0;
    if (damaged) options.onDamage();
  }, options.intervalMs ?? DEVICE_WATCH_MS);
  return {
    name: "device watch",
    missing,
    close: () => timers.clearInterval(timer),
  };
}
