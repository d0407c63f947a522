// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * What the forwarder does with an upstream's answer before using it: whether it answers the
 * query sent ({@linkcode questionsMatch}), and its stored form with whether and how long to
 * cache it ({@linkcode storeAnswer}, after `scanMessage` validated it).
 * @module
 */
import type { CachedAnswer } from "./cache.ts";
import { Rcode } from "./message.ts";
import { readTtl, scanMessage, writeTtl } from "./scan.ts";
import { lowerByte } from "./wire.ts";

/** An upstream answer as stored, and whether it may be cached. */
export interface StoredAnswer {
  readonly entry: CachedAnswer;
  readonly cacheable: boolean;
}

/** Whether `answer` has one question and it is the query's `[12, qEnd)` (case-insensitive). */
export function questionsMatch(query: Uint8Array, qEnd: number, answer: Uint8Array): boolean {
  if (answer.length < qEnd || answer[4] !== 0 || answer[5] !== 1) return false;
  for (let i = 12; i < qEnd; i++) {
    if (lowerByte(query[i]!) !== lowerByte(answer[i]!)) return false;
  }
  return true;
}

/**
 * Normalises an upstream answer for storage and decides whether (and how long) to cache it.
 * @param maxTtl the forwarder's `maxTtl`, seconds
 * @param clock the forwarder's clock, ms
 */
export function storeAnswer(
  answer: Uint8Array,
  maxTtl: number,
  clock: () => number,
): StoredAnswer | null {
  const scan = scanMessage(answer);
  if (scan === null) return null;
  let bytes = answer.subarray(0, scan.end);
  let cacheable = !scan.optMisplaced && !scan.truncated;
  if (scan.optOffset >= 0) {
    if (answer[scan.optOffset + 5] !== 0) cacheable = false; // extended RCODE
    bytes = bytes.slice(0, scan.optOffset);
    const ar = ((bytes[10]! << 8) | bytes[11]!) - 1;
    bytes[10] = ar >> 8;
    bytes[11] = ar & 0xff;
  } else {
    bytes = bytes.slice();
  }
  // Never pass an OPT through to a client that did not send one: if it is misplaced we
  // cannot strip it, so we do not use this answer.
  if (scan.optMisplaced) return null;
  // The TTLs clients get, fresh or from the cache: a TTL with the top bit set is 0
  // (RFC 2181 §8), and none exceeds maxTtl, the longest we keep the answer ourselves (as
  // CoreDNS's cache and dnsmasq's max-ttl do). So a stored TTL is at most the entry's life
  // and decrementing it on a hit (renderInto) stays within 0..maxTtl.
  for (const o of scan.ttlOffsets) writeTtl(bytes, o, Math.min(readTtl(bytes, o), maxTtl));
  let ttl: number | null = null;
  if (scan.rcode === Rcode.NOERROR && scan.answerCount > 0) ttl = scan.minAnswerTtl;
  else if (scan.rcode === Rcode.NOERROR || scan.rcode === Rcode.NXDOMAIN) ttl = scan.negativeTtl;
  const life = Math.min(ttl ?? 0, maxTtl);
  if (life <= 0) cacheable = false;
  const now = clock();
  return {
    entry: {
      bytes,
      ttlOffsets: scan.ttlOffsets,
      questionEnd: scan.questionEnd,
      storedAt: now,
      expiresAt: now + life * 1000,
    },
    cacheable,
  };
}
