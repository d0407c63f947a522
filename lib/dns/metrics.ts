// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * DNS metrics with nothing on the hot path but an array increment: per-packet counts go into a
 * typed array indexed by (query type, rcode) and are added to the registry's counters by
 * {@linkcode DnsMetrics.flush} (the server flushes every second and on close), so no label
 * string is built per packet.
 * @module
 */
import type { Counter, Histogram, MetricsRegistry } from "../metrics/mod.ts";
import type { ForwardStats } from "./forward.ts";

const TYPE_LABELS = [
  "A",
  "AAAA",
  "CNAME",
  "PTR",
  "SRV",
  "TXT",
  "SOA",
  "NS",
  "MX",
  "ANY",
  "other",
  "none",
] as const;
const RCODE_LABELS = [
  "NOERROR",
  "FORMERR",
  "SERVFAIL",
  "NXDOMAIN",
  "NOTIMP",
  "REFUSED",
  "BADVERS",
  "other",
] as const;
const NRCODE = RCODE_LABELS.length;
const NONE_TYPE = TYPE_LABELS.length - 1;

/** Index of a query type code in the label table; -1 means "no question could be read". */
function typeIndex(code: number): number {
  switch (code) {
    case 1:
      return 0;
    case 28:
      return 1;
    case 5:
      return 2;
    case 12:
      return 3;
    case 33:
      return 4;
    case 16:
      return 5;
    case 6:
      return 6;
    case 2:
      return 7;
    case 15:
      return 8;
    case 255:
      return 9;
    case -1:
      return NONE_TYPE;
    default:
      return 10;
  }
}

function rcodeIndex(rcode: number): number {
  if (rcode >= 0 && rcode <= 5) return rcode;
  return rcode === 16 ? 6 : 7;
}

/** Forward-duration histogram buckets, seconds. */
export const FORWARD_BUCKETS: readonly number[] = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
];

/** The DNS server's metric families and their pending per-packet counts. */
export class DnsMetrics {
  readonly #counts = new Float64Array(TYPE_LABELS.length * NRCODE);
  readonly #labels: { type: string; rcode: string }[] = [];
  #refused = 0;
  #dropped = 0;
  readonly #queries: Counter | null;
  readonly #refusedTotal: Counter | null;
  readonly #droppedTotal: Counter | null;
  readonly #hits: Counter | null;
  readonly #misses: Counter | null;
  readonly #duration: Histogram | null;

  /** Registers `edgemesh_dns_*` families on `registry` (none when omitted: counting only). */
  constructor(registry?: MetricsRegistry) {
    for (const type of TYPE_LABELS) {
      for (const rcode of RCODE_LABELS) this.#labels.push({ type, rcode });
    }
    this.#queries = registry?.counter(
      "edgemesh_dns_queries_total",
      "DNS queries answered, by query type and response code.",
    ) ?? null;
    this.#refusedTotal = registry?.counter(
      "edgemesh_dns_refused_total",
      "Queries for names that are not ours refused because the client may not use forwarding.",
    ) ?? null;
    this.#droppedTotal = registry?.counter(
      "edgemesh_dns_dropped_total",
      "Packets dropped without an answer (unreadable header, or a response).",
    ) ?? null;
    this.#hits = registry?.counter(
      "edgemesh_dns_cache_hits_total",
      "Forwarded queries answered from the cache.",
    ) ?? null;
    this.#misses = registry?.counter(
      "edgemesh_dns_cache_misses_total",
      "Forwarded queries not in the cache.",
    ) ?? null;
    this.#duration = registry?.histogram(
      "edgemesh_dns_forward_duration_seconds",
      "Duration of one exchange with an upstream resolver.",
      FORWARD_BUCKETS,
    ) ?? null;
  }

  /** Counts one answered query; `type` -1 when no question could be read. */
  count(type: number, rcode: number): void {
    this.#counts[typeIndex(type) * NRCODE + rcodeIndex(rcode)]!++;
  }

  /** Counts one REFUSED forwarding attempt. */
  refused(): void {
    this.#refused++;
  }

  /** Counts one dropped packet. */
  dropped(): void {
    this.#dropped++;
  }

  /** Pending count of one (type, rcode) series, for tests. */
  pending(type: number, rcode: number): number {
    return this.#counts[typeIndex(type) * NRCODE + rcodeIndex(rcode)]!;
  }

  /** Moves pending counts (and the forwarder's stats) into the registry. */
  flush(stats?: ForwardStats): void {
    const c = this.#counts;
    for (let i = 0; i < c.length; i++) {
      if (c[i] === 0) continue;
      this.#queries?.inc(this.#labels[i], c[i]);
      c[i] = 0;
    }
    if (this.#refused > 0) this.#refusedTotal?.inc(undefined, this.#refused);
    if (this.#dropped > 0) this.#droppedTotal?.inc(undefined, this.#dropped);
    this.#refused = 0;
    this.#dropped = 0;
    if (stats) {
      if (stats.cacheHits > 0) this.#hits?.inc(undefined, stats.cacheHits);
      if (stats.cacheMisses > 0) this.#misses?.inc(undefined, stats.cacheMisses);
      stats.cacheHits = 0;
      stats.cacheMisses = 0;
      for (const d of stats.durations) this.#duration?.observe(undefined, d);
      stats.durations.length = 0;
    }
  }
}
