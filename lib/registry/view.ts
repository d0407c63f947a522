// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Pure read helpers over a {@linkcode Snapshot}, shared by `ctl get`, status and tests.
 * @module
 */

import type { ServiceEntry, Snapshot } from "./model.ts";

/** Compares entries by namespace, then name (the order `ctl get` prints). */
export function compareEntries(a: ServiceEntry, b: ServiceEntry): number {
  const ka = `${a.service.namespace}\u0000${a.service.name}`;
  const kb = `${b.service.namespace}\u0000${b.service.name}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** Every service of `snapshot`, sorted by namespace then name. */
export function listServices(snapshot: Snapshot): ServiceEntry[] {
  return [...snapshot.services.values()].sort(compareEntries);
}
