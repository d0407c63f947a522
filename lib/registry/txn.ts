// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The undo log under which a change mutates the registry's working state (`tables.ts`): a full
 * VIP pool, a failed write or a change that altered nothing takes the mutation back, newest
 * first, and the values each touched key had before tell what the change altered.
 * @module
 */

import type { ServiceKey } from "./model.ts";

/** Marks a key that was absent before a transaction changed it. */
export const ABSENT: unique symbol = Symbol("absent");

/**
 * An undo log: every mutation of the working state records how to take it back, and the value
 * each touched key of a map had before the change first touched it (so the registry can tell a
 * change that altered nothing, `Registry.apply`).
 */
export class Txn {
  readonly #undo: (() => void)[] = [];
  readonly #before = new Map<Map<unknown, unknown>, Map<unknown, unknown>>();
  readonly #vips = new Set<ServiceKey>();
  readonly #vipLogs: (() => void)[] = [];
  set<K, V>(map: Map<K, V>, key: K, value: V): void {
    const had = map.has(key);
    const old = map.get(key);
    this.#note(map as Map<unknown, unknown>, key, had ? old : ABSENT);
    map.set(key, value);
    this.#undo.push(had ? () => map.set(key, old as V) : () => map.delete(key));
  }
  delete<K, V>(map: Map<K, V>, key: K): void {
    if (!map.has(key)) return;
    const old = map.get(key) as V;
    this.#note(map as Map<unknown, unknown>, key, old);
    map.delete(key);
    this.#undo.push(() => map.set(key, old));
  }
  /** Records how to undo a mutation outside the maps (the version). */
  push(undo: () => void): void {
    this.#undo.push(undo);
  }
  /**
   * Records how to undo a change of `service`'s VIP (such a change always alters the state), and
   * its log line, written by {@linkcode logVips} once the change is kept.
   */
  alter(service: ServiceKey, undo: () => void, log: () => void): void {
    this.#vips.add(service);
    this.#undo.push(undo);
    this.#vipLogs.push(log);
  }
  /** Writes the log lines of the VIP changes ({@linkcode alter}). */
  logVips(): void {
    for (const log of this.#vipLogs) log();
  }
  /** The services whose VIP was allocated or released ({@linkcode alter}). */
  get vips(): ReadonlySet<ServiceKey> {
    return this.#vips;
  }
  /** Each touched map with its touched keys and their values before ({@linkcode ABSENT}). */
  touched(): ReadonlyMap<Map<unknown, unknown>, ReadonlyMap<unknown, unknown>> {
    return this.#before;
  }
  rollback(): void {
    for (let i = this.#undo.length - 1; i >= 0; i--) this.#undo[i]!();
    this.#undo.length = 0;
  }
  #note(map: Map<unknown, unknown>, key: unknown, old: unknown): void {
    let keys = this.#before.get(map);
    if (!keys) this.#before.set(map, keys = new Map());
    if (!keys.has(key)) keys.set(key, old);
  }
}
