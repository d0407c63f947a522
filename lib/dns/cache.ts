// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * A bounded LRU cache of upstream answers that honours their TTLs (RFC 1035 §7.4) and negative
 * TTLs (RFC 2308 §5), with an injected clock.
 *
 * Entries hold the answer as wire bytes without its OPT record, plus the offsets of every TTL
 * field, so a hit is re-served by patching ID, question case and TTLs: no decoding, nothing lost
 * (unknown record types, DNSSEC records).
 * @module
 */

/** One cached upstream answer. */
export interface CachedAnswer {
  /** Wire bytes without OPT (ARCOUNT adjusted); never mutated. */
  readonly bytes: Uint8Array;
  /** Offsets of the TTL fields to decrement. */
  readonly ttlOffsets: readonly number[];
  /** Offset just past the question section. */
  readonly questionEnd: number;
  /** Clock time (ms) when it was received. */
  readonly storedAt: number;
  /** Clock time (ms) when it stops being served. */
  readonly expiresAt: number;
}

/**
 * The cache key: the question's lowercased name, type and class, the DO bit and the CD bit.
 *
 * - DO (RFC 3225): with it the upstream adds DNSSEC records a client without it must not get.
 * - CD (RFC 4035 §3.2.2): the query goes upstream with the client's CD, and with CD=1 a
 *   validating upstream returns data that failed validation, which it answers with SERVFAIL
 *   for CD=0. Such an answer must never reach a CD=0 client, whose only protection is the
 *   upstream's validation, so CD=1 answers get their own entries. RFC 6840 §5.9 would let a
 *   CD=1 query reuse a CD=0 answer (validated or unsigned data); we keep one lookup per query
 *   instead, at the cost of one more upstream exchange per name for the rare CD=1 client.
 * - Not RD: what a query without RD brings back is not cached (see `Forwarder.lookup`), so
 *   every entry is a recursive answer, and RD (like ID and CD) is patched per client.
 */
export function cacheKey(
  name: string,
  type: number,
  klass: number,
  dnssecOk: boolean,
  checkingDisabled: boolean,
): string {
  return `${name.toLowerCase()}|${type}|${klass}|${dnssecOk ? 1 : 0}|${checkingDisabled ? 1 : 0}`;
}

/**
 * How often, in ms of the entries' clock, {@linkcode AnswerCache.set} drops every expired entry.
 * Without it an expired entry left only when touched again or pushed out by the LRU bound, so a
 * stream of names asked once (unique subdomains) kept up to `max` dead answers for as long as the
 * agent ran: 10 000 entries, about 4 MiB of heap on a device (`make soak`, bench/README.md).
 */
export const PRUNE_INTERVAL_MS = 10_000;

/** An LRU map with expiry; `Map` iteration order is the recency order. */
export class AnswerCache {
  readonly #max: number;
  readonly #map = new Map<string, CachedAnswer>();
  #prunedAt = -Infinity;

  /** @param max the most entries kept (the least recently used is dropped first) */
  constructor(max = 10_000) {
    if (!Number.isInteger(max) || max < 0) {
      throw new RangeError(`Cannot create DNS cache: size ${max} is not a non-negative integer`);
    }
    this.#max = max;
  }

  /** Number of entries, expired ones included until they are touched. */
  get size(): number {
    return this.#map.size;
  }

  /** The live entry for `key` at time `now`, marking it recently used. */
  get(key: string, now: number): CachedAnswer | undefined {
    const e = this.#map.get(key);
    if (e === undefined) return undefined;
    this.#map.delete(key);
    if (now >= e.expiresAt) return undefined;
    this.#map.set(key, e);
    return e;
  }

  /**
   * Stores `entry`, evicting the least recently used entries beyond the bound; at most every
   * {@linkcode PRUNE_INTERVAL_MS} (by `entry.storedAt`) it first drops every expired entry.
   */
  set(key: string, entry: CachedAnswer): void {
    if (this.#max === 0) return;
    if (entry.storedAt - this.#prunedAt >= PRUNE_INTERVAL_MS) this.prune(entry.storedAt);
    this.#map.delete(key);
    this.#map.set(key, entry);
    while (this.#map.size > this.#max) {
      const oldest = this.#map.keys().next().value as string;
      this.#map.delete(oldest);
    }
  }

  /**
   * Drops every entry expired at `now` (one pass over the cache: ~10 000 entries at most);
   * returns how many went. Deleting while iterating a `Map` is safe: the iteration goes on
   * with the entries after the deleted one.
   */
  prune(now: number): number {
    this.#prunedAt = now;
    let dropped = 0;
    for (const [key, e] of this.#map) {
      if (now >= e.expiresAt) {
        this.#map.delete(key);
        dropped++;
      }
    }
    return dropped;
  }

  /** Drops everything. */
  clear(): void {
    this.#map.clear();
  }
}
