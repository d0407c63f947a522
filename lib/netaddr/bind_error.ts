// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Bind failures that say where and what to do: Deno's own message (`Address already in use (os
 * error 98)`) names neither the address nor the listener, and an agent with several (DNS,
 * metrics, tunnel) leaves the operator guessing. On an edge box the port is usually held by other
 * network software (dnsmasq on `0.0.0.0:53`, a web UI on `0.0.0.0:80`), so the advice names the
 * command that shows the holder and the config key that moves the agent out of its way.
 * @module
 */
import { isHostPort, readHostPort } from "./host_port.ts";

/** Which config key a listener's address comes from, and who usually holds its port. */
export interface BindTarget {
  /** The config key that sets the address, e.g. `metricsListen`. */
  readonly key: string;
  /**
   * Said after "another program already listens on port N": the usual holder on an edge box and
   * how to make room (e.g. for DNS, dnsmasq bound to `0.0.0.0:53`).
   */
  readonly usualHolder?: string;
}

/** `EADDRINUSE`, by class or by the OS error's text (errors wrapped by FFI code keep only it). */
const IN_USE = /\(os error 98\)|address (already )?in use/i;
/** `EADDRNOTAVAIL`: the address is not one of this node's (or not yet: DHCP, a late uplink). */
const NOT_AVAILABLE = /\(os error 99\)|cannot assign requested address/i;

/** The error and the errors it wraps (`cause`), outermost first, at most 10 deep. */
function chain(err: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e = err; e !== undefined && out.length < 10; e = (e as Error).cause) {
    out.push(e);
    if (!(e instanceof Error)) break;
  }
  return out;
}

function matches(err: unknown, cls: unknown, text: RegExp): boolean {
  return chain(err).some((e) =>
    (typeof cls === "function" && e instanceof cls) ||
    text.test(e instanceof Error ? e.message : String(e))
  );
}

/** Host and port of a `host:port` / `[v6]:port` listen string (port "" when it is none). */
function splitListen(listen: string): { host: string; port: string } {
  const got = readHostPort(listen);
  return isHostPort(got) ? { host: got.host, port: String(got.port) } : { host: listen, port: "" };
}

/**
 * What to do about a failed bind of `listen`, as a clause to append to the error (starting
 * with `: `), or `""` when the failure is neither "in use" nor "not an address of this node":
 * - in use: `another program already listens on port 53 (ss -ltnup 'sport = :53' names it)`,
 *   then `target.usualHolder`, then `; stop it or set dnsListen to a free address or port`;
 * - not available: `10.9.0.2 is not an address of this node (yet): set tunnelListen to one of
 *   its addresses, or 0.0.0.0`.
 */
export function bindAdvice(listen: string, err: unknown, target: BindTarget): string {
  const { host, port } = splitListen(listen);
  if (matches(err, Deno.errors.AddrInUse, IN_USE)) {
    const holder = target.usualHolder ? `, ${target.usualHolder}` : "";
    return `: another program already listens on port ${port} ` +
      `(ss -ltnup 'sport = :${port}' names it)${holder}; ` +
      `stop it or set ${target.key} to a free address or port`;
  }
  if (matches(err, Deno.errors.AddrNotAvailable, NOT_AVAILABLE)) {
    return `: ${host} is not an address of this node (yet): ` +
      `set ${target.key} to one of its addresses, or 0.0.0.0`;
  }
  return "";
}

/**
 * `err` with `Cannot listen for <what> on "<listen>": ` in front of its message and, with
 * `target`, {@linkcode bindAdvice} after it. The class is kept (`Deno.errors.AddrInUse` stays
 * one), so callers can still branch on it.
 */
export function bindError(what: string, listen: string, err: unknown, target?: BindTarget): Error {
  const prefix = `Cannot listen for ${what} on "${listen}"`;
  return withBindAdvice(err, listen, target, `${prefix}: `);
}

/**
 * `err` with `before` in front of its message and {@linkcode bindAdvice} for `listen` after it
 * (no advice without `target`), keeping its class and with `err` as the `cause`. For errors that
 * already name the address (the DNS server's `Cannot listen for DNS on …`), `before` is "".
 */
export function withBindAdvice(
  err: unknown,
  listen: string,
  target: BindTarget | undefined,
  before = "",
): Error {
  const advice = target ? bindAdvice(listen, err, target) : "";
  if (!(err instanceof Error)) return new Error(`${before}${String(err)}${advice}`);
  const Same = err.constructor as new (message: string, options?: ErrorOptions) => Error;
  return new Same(`${before}${err.message}${advice}`, { cause: err });
}
