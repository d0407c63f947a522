// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Passive health: a backend whose dial failed is skipped for a cool-down, then tried again
 * (like Envoy's outlier ejection, driven only by real traffic, no probes).
 * @module
 */
import type { BackendKey } from "./balancer.ts";

/**
 * Ejected backends and when they become eligible again; the clock is passed in. Ejections are
 * shared between proxy threads as durations, not deadlines: each thread's monotonic clock
 * (`monotonicNow`) has its own origin.
 */
export class PassiveHealth {
  readonly #cooldownMs: number;
  readonly #until = new Map<BackendKey, number>();
  readonly #onEject: ((key: BackendKey, forMs: number) => void) | undefined;

  /**
   * @param cooldownMs how long a failed backend is skipped (config `ejectCooldownMs`)
   * @param onEject told of every local ejection and its length (proxy threads share them)
   */
  constructor(cooldownMs: number, onEject?: (key: BackendKey, forMs: number) => void) {
    this.#cooldownMs = cooldownMs;
    this.#onEject = onEject;
  }

  /** Number of backends currently tracked (expired ones may linger until looked at). */
  get size(): number {
    return this.#until.size;
  }

  /** Marks `key` as failed at `now`: it is skipped until `now + cooldownMs`. */
  eject(key: BackendKey, now: number): void {
    if (this.#cooldownMs <= 0) return;
    this.ejectFor(key, this.#cooldownMs, now);
    this.#onEject?.(key, this.#cooldownMs);
  }

  /** Applies an ejection another thread made: `key` is skipped for `forMs` from `now`. */
  ejectFor(key: BackendKey, forMs: number, now: number): void {
    const until = now + forMs;
    if (forMs <= 0 || until <= (this.#until.get(key) ?? 0)) return;
    this.#until.set(key, until);
    if (this.#until.size > 1024) this.ejected(now);
  }

  /** Whether `key` is still cooling down at `now`. */
  isEjected(key: BackendKey, now: number): boolean {
    if (this.#until.size === 0) return false;
    const until = this.#until.get(key);
    if (until === undefined) return false;
    if (now < until) return true;
    this.#until.delete(key);
    return false;
  }

  /** Currently ejected backends (drops expired entries), for status. */
  ejected(now: number): BackendKey[] {
    const out: BackendKey[] = [];
    for (const [key, until] of this.#until) {
      if (now < until) out.push(key);
      else this.#until.delete(key);
    }
    return out;
  }
}
