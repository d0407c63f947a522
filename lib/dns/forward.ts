// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Forwarding of every name that is not ours to upstream resolvers, with a cache.
 *
 * Upstreams are tried in order; the next one is tried on a timeout, a malformed answer,
 * SERVFAIL or REFUSED. A truncated UDP answer is retried over TCP with the same upstream
 * (RFC 7766 §5). UDP queries go out over a bounded pool of shared sockets on random source
 * ports with random IDs unique per socket (`udp_pool.ts`), and only an answer from the
 * upstream's address with the query's ID and question is accepted (RFC 5452 §9.1).
 *
 * Upstream addresses are parsed in `nameservers.ts`, queries travel by `transport.ts`, and an
 * answer is checked and put in its stored form by `upstream_answer.ts`.
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { LogRateLimiter, nullLogger } from "../log/mod.ts";
import { formatHostPort } from "../netaddr/mod.ts";
import { AnswerCache, type CachedAnswer } from "./cache.ts";
import { monotonicNow } from "../sys/clock.ts";
import { Rcode } from "./message.ts";
import type { Upstream } from "./nameservers.ts";
import { denoTransport, type UpstreamTransport } from "./transport.ts";
import { questionsMatch, storeAnswer, type StoredAnswer } from "./upstream_answer.ts";
import { MAX_TTL, readTtl, writeTtl } from "./scan.ts";
import { Flag, headerResponse, OPT_SIZE, setClientFlags, writeOpt } from "./wire.ts";

/**
 * The signal of one upstream attempt: aborted by `outer` (the forwarder stopping) or after
 * `ms`. Its timer and listener go when the attempt is disposed, as soon as the answer is in.
 * `AbortSignal.any([outer, AbortSignal.timeout(ms)])` kept both for the full timeout: under a
 * flood of names to forward (10 000 queries/s) that held ~20 000 live timers and signals,
 * and the agent's peak RSS went from 67 to 300–340 MiB (211 MiB with this; bench/README.md).
 */
function attemptSignal(outer: AbortSignal, ms: number): { signal: AbortSignal } & Disposable {
  const ac = new AbortController();
  const onOuter = () => ac.abort(outer.reason);
  outer.addEventListener("abort", onOuter, { once: true });
  const timer = setTimeout(() => ac.abort(new DOMException("Timed out", "TimeoutError")), ms);
  return {
    signal: ac.signal,
    [Symbol.dispose]() {
      clearTimeout(timer);
      outer.removeEventListener("abort", onOuter);
    },
  };
}

/** Counters the forwarder reports to (kept as plain numbers; flushed to metrics elsewhere). */
export interface ForwardStats {
  cacheHits: number;
  cacheMisses: number;
  /** Upstream exchange durations, seconds, waiting to be observed. */
  readonly durations: number[];
}

/** Options of {@linkcode Forwarder}. */
export interface ForwarderOptions {
  readonly upstreams: readonly Upstream[];
  /** Per-upstream attempt timeout, ms. @default 2000 */
  readonly timeoutMs?: number;
  /** Cache entries. @default 10000 */
  readonly cacheSize?: number;
  /**
   * Longest time an answer is cached, seconds (0 to 2^31 − 1), and the largest TTL a client
   * gets in a forwarded answer: every record's TTL is clamped to it. @default 3600
   */
  readonly maxTtl?: number;
  /** Clock, ms (durations only: cache lifetimes, TTLs, the rate of warnings). @default {monotonicNow} */
  readonly now?: () => number;
  /** @default {denoTransport} */
  readonly transport?: UpstreamTransport;
  /** Aborting it cancels every exchange in flight. */
  readonly signal?: AbortSignal;
  /** @default {nullLogger} */
  readonly log?: Logger;
}

/** A forwarded question as the client asked it. */
export interface ForwardRequest {
  /** The client's query bytes (not retained beyond the call; copied as needed). */
  readonly query: Uint8Array;
  /** Offset just past the question in `query`. */
  readonly questionEnd: number;
  /** Lowercased question name without trailing dot, type and class (the cache key). */
  readonly name: string;
  readonly type: number;
  readonly class: number;
  /** Whether the client sent EDNS (then our OPT is appended to the answer). */
  readonly edns: boolean;
  readonly dnssecOk: boolean;
  /** Largest answer the client accepts (UDP payload size, or 65535 over TCP). */
  readonly limit: number;
}

/** Size of a stored answer rendered for a client: plus our OPT when the client sent EDNS. */
export function renderedSize(entry: CachedAnswer, edns: boolean): number {
  return entry.bytes.length + (edns ? OPT_SIZE : 0);
}

/** Forwards queries upstream and caches the answers. */
export class Forwarder {
  #upstreams: readonly Upstream[];
  /** Bumped by {@linkcode Forwarder.setUpstreams}: answers of older exchanges are not cached. */
  #generation = 0;
  readonly #timeoutMs: number;
  readonly #maxTtl: number;
  readonly #now: () => number;
  readonly #transport: UpstreamTransport;
  readonly #signal: AbortSignal;
  readonly #log: Logger;
  readonly #cache: AnswerCache;
  readonly #inflight = new Map<string, Promise<CachedAnswer | null>>();
  /** "Every upstream failed": one warning a minute, with the count left out. */
  readonly #failures: LogRateLimiter;
  /** Counters for metrics; read and reset by the owner. */
  readonly stats: ForwardStats = { cacheHits: 0, cacheMisses: 0, durations: [] };

  constructor(options: ForwarderOptions) {
    this.#upstreams = options.upstreams;
    this.#timeoutMs = options.timeoutMs ?? 2000;
    this.#maxTtl = options.maxTtl ?? 3600;
    if (!Number.isInteger(this.#maxTtl) || this.#maxTtl < 0 || this.#maxTtl > MAX_TTL) {
      throw new RangeError(
        `Cannot create DNS forwarder: maxTtl ${this.#maxTtl} is not an integer from 0 to ${MAX_TTL}`,
      );
    }
    this.#now = options.now ?? monotonicNow;
    this.#transport = options.transport ?? denoTransport;
    this.#signal = options.signal ?? new AbortController().signal;
    this.#log = options.log ?? nullLogger;
    this.#cache = new AnswerCache(options.cacheSize ?? 10_000);
    this.#failures = new LogRateLimiter({ now: this.#now });
  }

  /** Whether there is any upstream (recursion available). */
  get available(): boolean {
    return this.#upstreams.length > 0;
  }

  /** The upstreams in the order they are tried. */
  get upstreams(): readonly Upstream[] {
    return this.#upstreams;
  }

  /**
   * Forwards to `upstreams` from now on (resolv.conf changed: a new DHCP lease, another
   * network). Returns false, changing nothing, when they are the ones in use. Otherwise the
   * cache is emptied, since what the old upstreams answered need not be what the new ones do
   * (split-horizon names, a captive portal's answers; dnsmasq's `--clear-on-reload`), and an
   * answer still on its way from an old upstream goes to the clients waiting for it but is not
   * cached; a new query does not join one of those.
   */
  setUpstreams(upstreams: readonly Upstream[]): boolean {
    const old = this.#upstreams;
    const same = upstreams.length === old.length &&
      upstreams.every((u, i) => u.hostname === old[i]!.hostname && u.port === old[i]!.port);
    if (same) return false;
    this.#upstreams = [...upstreams];
    this.#generation++;
    this.#cache.clear();
    this.#inflight.clear();
    return true;
  }

  /** Number of cached answers. */
  get cacheSize(): number {
    return this.#cache.size;
  }

  /**
   * Answers `req` from the cache or upstream, as bytes for the client: the client's ID and
   * question spelling, decremented TTLs, our OPT when the client sent one, TC when it does not
   * fit `req.limit`. SERVFAIL when every upstream failed.
   */
  async forward(req: ForwardRequest, key: string): Promise<Uint8Array> {
    const entry = await this.lookup(req, key);
    if (entry === null) {
      return headerResponse(req.query, Rcode.SERVFAIL, {
        questionEnd: req.questionEnd,
        recursionAvailable: true,
        edns: req.edns ? { dnssecOk: req.dnssecOk } : null,
      });
    }
    return this.render(entry, req);
  }

  /**
   * The cached or freshly fetched answer for `req` (null when every upstream failed).
   *
   * The query goes upstream as the client sent it but for the ID, so its RD and CD bits too.
   * CD changes what a validating upstream returns, so the caller puts it in `key` (`cacheKey`
   * in `cache.ts`). RD is not in the key: a query without RD (RFC 1035 §4.1.1, RFC 1034
   * §4.3.1) is answered from the cache when it can be, but what an upstream answers it without
   * recursing (a referral, a CNAME without its target, nothing) is neither cached nor handed to
   * the recursive queries waiting for the same key.
   */
  lookup(req: ForwardRequest, key: string): Promise<CachedAnswer | null> {
    const hit = this.#cache.get(key, this.#now());
    if (hit !== undefined) {
      this.stats.cacheHits++;
      return Promise.resolve(hit);
    }
    this.stats.cacheMisses++;
    const recursive = (req.query[2]! & (Flag.RD >> 8)) !== 0;
    const flight = recursive ? key : `${key}|norec`;
    const pending = this.#inflight.get(flight);
    if (pending) return pending;
    const generation = this.#generation;
    const p: Promise<CachedAnswer | null> = this.#exchange(req.query.slice(), req.questionEnd)
      .then((r) => {
        if (r !== null && r.cacheable && recursive && generation === this.#generation) {
          this.#cache.set(key, r.entry);
        }
        return r === null ? null : r.entry;
      })
      .finally(() => {
        if (this.#inflight.get(flight) === p) this.#inflight.delete(flight);
      });
    this.#inflight.set(flight, p);
    return p;
  }

  /**
   * The live cached answer under `key` (counted as a hit), or null, without ever starting an
   * exchange: the synchronous hot path of the handler. A miss is not counted; the caller then
   * goes through {@linkcode Forwarder.lookup}, which counts it.
   */
  cached(key: string): CachedAnswer | null {
    const hit = this.#cache.get(key, this.#now());
    if (hit === undefined) return null;
    this.stats.cacheHits++;
    return hit;
  }

  /** Re-encodes a stored answer for one client (see {@linkcode Forwarder.forward}). */
  render(entry: CachedAnswer, req: ForwardRequest): Uint8Array {
    const size = renderedSize(entry, req.edns);
    if (size > req.limit) {
      return headerResponse(req.query, entry.bytes[3]! & 0xf, {
        questionEnd: req.questionEnd,
        truncated: true,
        recursionAvailable: true,
        edns: req.edns ? { dnssecOk: req.dnssecOk } : null,
      });
    }
    const out = new Uint8Array(size);
    this.renderInto(entry, req.query, req.questionEnd, req.edns, req.dnssecOk, out);
    return out;
  }

  /**
   * Writes a stored answer for one client into `out` (at least {@linkcode renderedSize} long):
   * the client's ID and question bytes as sent (RFC 1035 §7.3; resolvers using 0x20 case
   * randomisation check them), the client's RD and CD bits with RA set (RFC 1035 §4.1.1,
   * RFC 6840 §5.9; the stored bits are those of whichever query filled the cache), TTLs
   * decremented by the whole seconds spent in the cache (RFC 1035 §7.4; stored TTLs are
   * 0..maxTtl, the entry lives at most the smallest answer TTL, and a clock that went back
   * changes nothing, so they stay within 0..maxTtl), our OPT when the client sent one
   * (RFC 6891 §7). Returns the length written.
   */
  renderInto(
    entry: CachedAnswer,
    query: Uint8Array,
    questionEnd: number,
    edns: boolean,
    dnssecOk: boolean,
    out: Uint8Array,
  ): number {
    const src = entry.bytes;
    out.set(src);
    out[0] = query[0]!;
    out[1] = query[1]!;
    // Only clients that may use forwarding get forwarded answers: RA as on our other replies.
    setClientFlags(out, query, true);
    if (entry.questionEnd === questionEnd) {
      for (let i = 12; i < questionEnd; i++) out[i] = query[i]!;
    }
    const elapsed = Math.floor((this.#now() - entry.storedAt) / 1000);
    if (elapsed > 0) {
      for (const o of entry.ttlOffsets) writeTtl(out, o, Math.max(0, readTtl(src, o) - elapsed));
    }
    if (!edns) return src.length;
    const ar = ((out[10]! << 8) | out[11]!) + 1;
    out[10] = ar >> 8;
    out[11] = ar & 0xff;
    return writeOpt(out, src.length, dnssecOk);
  }

  async #exchange(
    clientQuery: Uint8Array,
    questionEnd: number,
  ): Promise<StoredAnswer | null> {
    const query = clientQuery;
    const id = crypto.getRandomValues(new Uint16Array(1))[0]!;
    query[0] = id >> 8;
    query[1] = id & 0xff;
    // The transport may have replaced the ID (a pooled socket's own): compare with the query.
    const accept = (a: Uint8Array) =>
      a.length >= 12 && a[0] === query[0] && a[1] === query[1] && (a[2]! & 0x80) !== 0 &&
      questionsMatch(query, questionEnd, a);
    let lastError = "no upstream configured";
    const upstreams = this.#upstreams; // the list this exchange started with
    for (const upstream of upstreams) {
      if (this.#signal.aborted) return null;
      const started = performance.now();
      using attempt = attemptSignal(this.#signal, this.#timeoutMs);
      const { signal } = attempt;
      let answer: Uint8Array;
      try {
        answer = await this.#transport.udp(upstream, query, accept, signal);
        if ((answer[2]! & 0x02) !== 0) {
          this.#log.debug("upstream answer truncated, retrying over TCP", {
            upstream: formatHostPort(upstream.hostname, upstream.port),
          });
          answer = await this.#transport.tcp(upstream, query, signal);
          if (!accept(answer)) throw new Error("Cannot use TCP answer: ID or question mismatch");
        }
      } catch (err) {
        this.#log.debug("upstream failed", {
          upstream: formatHostPort(upstream.hostname, upstream.port),
          error: err,
        });
        lastError = `${formatHostPort(upstream.hostname, upstream.port)}: ${
          err instanceof Error ? err.message : String(err)
        }`;
        continue;
      } finally {
        this.stats.durations.push((performance.now() - started) / 1000);
      }
      const rcode = answer[3]! & 0xf;
      if (rcode === Rcode.SERVFAIL || rcode === Rcode.REFUSED) {
        this.#log.debug("upstream answered with an error, trying the next", {
          upstream: formatHostPort(upstream.hostname, upstream.port),
          rcode,
        });
        lastError = `${formatHostPort(upstream.hostname, upstream.port)}: answered ${
          rcode === Rcode.SERVFAIL ? "SERVFAIL" : "REFUSED"
        }`;
        continue;
      }
      const stored = storeAnswer(answer, this.#maxTtl, this.#now);
      if (stored === null) {
        // Never forwarded, never cached: a client's decoder would fail on it (or loop).
        this.#log.debug("upstream answer malformed, trying the next", {
          upstream: formatHostPort(upstream.hostname, upstream.port),
        });
        lastError = `${formatHostPort(upstream.hostname, upstream.port)}: malformed answer`;
        continue;
      }
      return stored;
    }
    // Forwarded names fail (SERVFAIL) while upstreams are down: an operator must see it.
    if (!this.#signal.aborted) {
      this.#failures.warn(this.#log, "all", "Every DNS upstream failed; answering SERVFAIL", {
        upstreams: upstreams.map((u) => formatHostPort(u.hostname, u.port)).join(","),
        lastError,
      });
    }
    return null;
  }
}
