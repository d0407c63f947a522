// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Notices, within seconds, that the VIP device is gone. The reconcile loop repairs the device
 * whenever it runs (a change, a retry, the 30 s resync), but until then `/readyz` would keep
 * saying `[+]device ok` while no VIP answers. A cheap look at the interface list
 * (`Deno.networkInterfaces()`, getifaddrs(3): no process, no netlink dump of its own) every
 * few seconds makes readiness truthful and asks for the repair at once.
 * @module
 */
import type { Logger } from "../log/mod.ts";
import type { IntervalTimers } from "./heap_trim.ts";

/** How often the device is looked for, ms. */
export const DEVICE_WATCH_MS = 5_000;

/** Options of {@linkcode startDeviceWatch}. */
export interface DeviceWatchOptions {
  /** The device name (config `device`). */
  readonly device: string;
  /**
   * Whether the device should be listed: it holds addresses (getifaddrs lists only interfaces
   * with an address, so a device the agent has not addressed yet is not missing).
   */
  readonly expected: () => boolean;
  /** Whether an interface `device` with an address exists. @default from Deno.networkInterfaces */
  readonly present?: (device: string) => boolean;
  /** Called at every look that finds the device missing (the agent schedules a full pass). */
  readonly onMissing: () => void;
  readonly log: Logger;
  /** @default {DEVICE_WATCH_MS} */
  readonly intervalMs?: number;
  /** The interval timer (tests drive a fake one). @default globalThis */
  readonly timers?: IntervalTimers;
}

/** A running device watch. */
export interface DeviceWatch {
  readonly name: string;
  /** The last look found the device missing, and it still is. */
  missing(): boolean;
  close(): void;
}

/** Whether `device` is listed with an address by getifaddrs(3). */
export function interfaceListed(device: string): boolean {
  return Deno.networkInterfaces().some((i) => i.name === device);
}

/**
 * Looks for the device every `intervalMs`; while it is missing, `missing()` is true and
 * `onMissing` runs at each look (one warning when it goes, one line when it is back).
 */
export function startDeviceWatch(options: DeviceWatchOptions): DeviceWatch {
  const present = options.present ?? interfaceListed;
  const timers = options.timers ?? globalThis;
  let gone = false;
  const timer = timers.setInterval(() => {
    const missing = options.expected() && !present(options.device);
    if (missing && !gone) {
      options.log.warn("The device is gone; repairing it now", { device: options.device });
    } else if (!missing && gone) {
      options.log.info("The device is back", { device: options.device });
    }
    gone = missing;
    if (missing) options.onMissing();
  }, options.intervalMs ?? DEVICE_WATCH_MS);
  return {
    name: "device watch",
    // Looked at again when asked: a repair in between shows at once, not at the next look.
    missing: () => gone && options.expected() && !present(options.device),
    close: () => timers.clearInterval(timer),
  };
}
