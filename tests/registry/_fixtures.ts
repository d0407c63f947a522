// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Setup shared by the registry tests: a temporary state directory removed afterwards, and a
 * {@linkcode Registry} opened on it with the default subnet.
 * @module
 */
import { nullLogger } from "../../lib/log/mod.ts";
import { Registry, type RegistryOptions } from "../../lib/registry/mod.ts";

/** Runs `fn` with a fresh temporary directory (named `<prefix>…`), always removed afterwards. */
export async function withDir(
  prefix: string,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Opens a registry with its state in `<dir>/state`, subnet 9.251.0.0/16 and `extra` on top. */
export function open(dir: string, extra: Partial<RegistryOptions> = {}): Promise<Registry> {
  return Registry.open({
    stateDir: `${dir}/state`,
    subnet: "9.251.0.0/16",
    log: nullLogger,
    ...extra,
  });
}
