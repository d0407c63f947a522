// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * At most one log line per key (a peer, a service) per interval, with the count of the lines
 * left out.
 *
 * Why: some failures repeat on every connection — a peer whose tunnel key differs from ours, a
 * service whose endpoints all refuse. They are configuration errors an operator must see at
 * the default level, but a line per connection would flood the log (and cost CPU under load),
 * so the per-connection detail stays at `debug` and a {@linkcode LogRateLimiter} writes the
 * `warn` line once per key and interval, with `suppressed=N` when N lines were left out since.
 * @module
 */
import type { LogFields, Logger } from "./logger.ts";

/** Interval of {@linkcode LogRateLimiter} unless given: one line per key and minute. */
export const DEFAULT_LOG_INTERVAL_MS = 60_000;

/** Keys a {@linkcode LogRateLimiter} remembers unless given. */
export const DEFAULT_LOG_KEYS = 1024;

/** Options of {@linkcode LogRateLimiter}. */
export interface LogRateLimiterOptions {
  /** At most one line per key in this many ms. @default {@linkcode DEFAULT_LOG_INTERVAL_MS} */
  readonly intervalMs?: number;
  /** Clock, ms (the owner's injected clock, so tests can step it). @default Date.now */
  readonly now?: () => number;
  /**
   * Most keys remembered; past it the key written longest ago is forgotten (its next line is
   * written at once, and lines it left out are not counted). @default {@linkcode DEFAULT_LOG_KEYS}
   */
  readonly maxKeys?: number;
}

interface Slot {
  /** When the last line of this key was written. */
  readonly at: number;
  /** Lines left out since. */
  suppressed: number;
}

/**
 * Decides per key whether a line is written now. Owned by one component (no shared state);
 * meant for failure paths only — each call reads the clock and looks the key up in a `Map`.
 */
export class LogRateLimiter {
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #maxKeys: number;
  /** key → its last written line; in the order lines were written (oldest first). */
  readonly #slots = new Map<string, Slot>();

  constructor(options: LogRateLimiterOptions = {}) {
    this.#intervalMs = options.intervalMs ?? DEFAULT_LOG_INTERVAL_MS;
    this.#now = options.now ?? Date.now;
    this.#maxKeys = Math.max(1, options.maxKeys ?? DEFAULT_LOG_KEYS);
  }

  /** Keys remembered now. */
  get size(): number {
    return this.#slots.size;
  }

  /**
   * Whether a line for `key` may be written now: null if not (it is counted as suppressed),
   * else how many lines of `key` were suppressed since the last one written. A clock that
   * went backwards lets the line through (a stuck key would stay silent for the jump).
   */
  take(key: string): number | null {
    const now = this.#now();
    const slot = this.#slots.get(key);
    if (slot !== undefined && now >= slot.at && now - slot.at < this.#intervalMs) {
      slot.suppressed++;
      return null;
    }
    if (slot !== undefined) this.#slots.delete(key); // re-inserted last: the newest line
    else if (this.#slots.size >= this.#maxKeys) {
      this.#slots.delete(this.#slots.keys().next().value!);
    }
    this.#slots.set(key, { at: now, suppressed: 0 });
    return slot?.suppressed ?? 0;
  }

  /**
   * Writes `msg` at `warn` on `log` if {@linkcode take} allows it, adding `suppressed: N` to
   * the fields when lines were left out. Returns whether the line was written.
   */
  warn(log: Logger, key: string, msg: string, fields?: LogFields): boolean {
    const suppressed = this.take(key);
    if (suppressed === null) return false;
    log.warn(msg, suppressed > 0 ? { ...fields, suppressed } : fields);
    return true;
  }
}
