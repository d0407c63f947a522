// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Bind failures that say where: Deno's own message (`Address already in use (os error 98)`)
 * names neither the address nor the listener, and an agent with several (DNS, metrics, tunnel)
 * leaves the operator guessing.
 * @module
 */

/**
 * `err` with `Cannot listen for <what> on "<listen>": ` in front of its message. The class is
 * kept (`Deno.errors.AddrInUse` stays one), so callers can still branch on it.
 */
export function bindError(what: string, listen: string, err: unknown): Error {
  const prefix = `Cannot listen for ${what} on "${listen}"`;
  if (!(err instanceof Error)) return new Error(`${prefix}: ${String(err)}`);
  const Same = err.constructor as new (message: string, options?: ErrorOptions) => Error;
  return new Same(`${prefix}: ${err.message}`, { cause: err });
}
