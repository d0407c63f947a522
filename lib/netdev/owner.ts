// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Who owns the VIP device. While an agent runs it claims the device name in its network
 * namespace ({@linkcode claimDevice}): a second agent on the same device would remove the first
 * one's VIPs and, on exit, the device itself, so it must refuse to start. A device the agent
 * creates carries an alias (`ifalias`, shown by `ip link show`) naming the agent and its pid; a
 * later run that finds it (after a crash or `kill -9`, since a live agent would hold the claim)
 * takes the device back and deletes it on exit.
 * @module
 */

/** The alias prefix of a device the agent created (older agents wrote it without a pid). */
export const OWNED_ALIAS = "edgemesh: VIP device created by the edgemesh agent";

/** The alias for a device created by the agent with `pid`. */
export function ownedAlias(pid: number): string {
  return `${OWNED_ALIAS} (pid ${pid})`;
}

/**
 * Reads an alias: null when it is not ours, else the creator's pid (null when the alias
 * predates the pid).
 */
export function readOwnedAlias(alias: string | null): { readonly pid: number | null } | null {
  if (alias === null || !alias.startsWith(OWNED_ALIAS)) return null;
  const rest = alias.slice(OWNED_ALIAS.length);
  if (rest === "") return { pid: null };
  const m = /^ \(pid (\d+)\)$/.exec(rest);
  return m ? { pid: Number(m[1]) } : null;
}

/** Another edgemesh agent in this network namespace uses the device. */
export class DeviceInUseError extends Error {
  override name = "DeviceInUseError";
}

/** A hold on a device name in this network namespace; {@linkcode claimDevice} makes one. */
export interface DeviceClaim {
  /** Gives the name up (idempotent). */
  release(): void;
}

/** How {@linkcode NetDev} claims its device: {@linkcode claimDevice}, or a stand-in in tests. */
export type ClaimDevice = (device: string) => DeviceClaim;

/**
 * Claims `device` for this agent: binds the abstract Unix socket `@edgemesh/device/<device>`
 * (unix(7): abstract names live in the network namespace, like device names, need no file and
 * vanish with the process, `kill -9` included). A second agent in the same namespace finds the
 * name taken and refuses to start before it runs any `ip` command.
 * @throws {DeviceInUseError} when another process holds the claim
 */
export function claimDevice(device: string): DeviceClaim {
  let listener: Deno.Listener;
  try {
    listener = Deno.listen({ transport: "unix", path: `\0edgemesh/device/${device}` });
  } catch (err) {
    if (!(err instanceof Deno.errors.AddrInUse)) throw err;
    throw new DeviceInUseError(
      `Cannot use device "${device}": another edgemesh agent in this network namespace uses ` +
        "it; give each agent its own device and subnet",
      { cause: err },
    );
  }
  return {
    release() {
      try {
        listener.close();
      } catch (err) {
        if (!(err instanceof Deno.errors.BadResource)) throw err;
      }
    },
  };
}
