// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Proof of the pre-shared cluster key on every tunnel stream.
 *
 * Each request carries HMAC-SHA-256 (RFC 2104, via `node:crypto`) over the source node name, the
 * target (service, port, endpoint), a timestamp and a random nonce. The receiver checks the
 * MAC in constant time, the timestamp against a replay window and the nonce against a bounded
 * cache of nonces seen within that window, so a captured request cannot be replayed.
 * @module
 */
import { createHmac, createSecretKey, type KeyObject } from "node:crypto";
import type { StreamHeaders } from "./wire.ts";

/** Minimum key length: 32 bytes, the HMAC-SHA-256 output size (RFC 2104 §3). */
export const MIN_KEY_BYTES = 32;

/** Domain-separation tag of the signed string; bump it with any change of what is signed. */
const SIGNING_TAG = "edgemesh-tunnel-v1";

/** Thrown when the configured `tunnelKeyFile` or `tunnelTLS` files cannot be used; the agent refuses to start. */
export class TunnelSetupError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TunnelSetupError";
  }
}

/**
 * Reads the cluster key from `path` (`tunnelKeyFile`, or an entry of `tunnelAcceptKeyFiles`:
 * `configKey` names it in errors). The whole file is the key; a trailing newline is kept (it is
 * part of every node's copy of the same file).
 * @throws {TunnelSetupError} when the file is missing, unreadable or shorter than 32 bytes
 */
export async function loadTunnelKey(
  path: string,
  configKey = "tunnelKeyFile",
): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    const why = err instanceof Deno.errors.NotFound
      ? "file does not exist"
      : err instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : err instanceof Deno.errors.IsADirectory
      ? "it is a directory"
      : (err as Error).message;
    throw new TunnelSetupError(`Cannot load tunnel key "${path}" (${configKey}): ${why}`, {
      cause: err,
    });
  }
  if (bytes.length < MIN_KEY_BYTES) {
    throw new TunnelSetupError(
      `Cannot load tunnel key "${path}" (${configKey}): it has ${bytes.length} bytes, at least ${MIN_KEY_BYTES} are required`,
    );
  }
  return bytes;
}

/**
 * The cluster key, ready to compute HMAC-SHA-256. Opaque: the bytes stay inside a
 * `node:crypto` `KeyObject`.
 */
export interface TunnelKey {
  /** HMAC-SHA-256 of `data` (RFC 2104). */
  mac(data: Uint8Array): Uint8Array;
}

/**
 * Imports raw key bytes as an HMAC-SHA-256 key. Why `node:crypto` and not WebCrypto: its
 * HMAC is synchronous, while `crypto.subtle.sign` goes through a blocking-thread hop and
 * promise per call, twice per stream (sign and verify).
 */
export function importTunnelKey(key: Uint8Array): Promise<TunnelKey> {
  if (key.length < MIN_KEY_BYTES) {
    return Promise.reject(
      new RangeError(
        `Cannot use tunnel key: it has ${key.length} bytes, at least ${MIN_KEY_BYTES} are required`,
      ),
    );
  }
  const secret: KeyObject = createSecretKey(key.slice());
  return Promise.resolve({
    mac: (data) => new Uint8Array(createHmac("sha256", secret).update(data).digest()),
  });
}

/** The fields a signature covers (everything in {@linkcode StreamHeaders} but the signature). */
export type SignedFields = Omit<StreamHeaders, "signature">;

const encoder = new TextEncoder();

/** The exact bytes signed: a JSON array, so no field can bleed into the next. */
export function canonicalBytes(f: SignedFields): Uint8Array<ArrayBuffer> {
  return encoder.encode(
    JSON.stringify([
      SIGNING_TAG,
      f.source,
      f.service,
      f.port,
      f.endpoint,
      f.timestamp,
      f.nonce,
    ]),
  );
}

function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

function fromHex(hex: string): Uint8Array | null {
  if (hex.length % 2 !== 0 || !/^[0-9a-f]*$/.test(hex)) return null;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** A fresh 128-bit random nonce, hex. */
export function newNonce(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(16)));
}

/**
 * Signs a target: adds `timestamp` (ms since the epoch, from `now`) and a random nonce.
 * The caller passes the unsigned target header values.
 */
export function signRequest(
  key: TunnelKey,
  target: Pick<StreamHeaders, "source" | "service" | "port" | "endpoint">,
  now: number,
  nonce: string = newNonce(),
): Promise<StreamHeaders> {
  const fields: SignedFields = { ...target, timestamp: String(Math.trunc(now)), nonce };
  return Promise.resolve({ ...fields, signature: toHex(key.mac(canonicalBytes(fields))) });
}

/** Compares two byte strings in time independent of where they differ. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/**
 * Why a request failed verification. `malformed`, `bad-signature`, `stale` and `replayed` are
 * authentication failures (the `unauthenticated` refusal); `rate-limited` (the request's source
 * holds its whole share of the nonce cache) and `cache-full` (the cache as a whole is full) are
 * not: the request was signed with the cluster key, and they get refusals of their own.
 */
export type VerifyFailure =
  | "malformed"
  | "bad-signature"
  | "stale"
  | "replayed"
  | "rate-limited"
  | "cache-full";

/** Result of {@linkcode RequestVerifier.verify}. */
export type VerifyResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly failure: VerifyFailure };

/** Default {@linkcode RequestVerifierOptions.maxNonces}. */
export const DEFAULT_MAX_NONCES = 200_000;
/**
 * Default {@linkcode RequestVerifierOptions.maxNoncesPerSource}: half the cache, so no single
 * address can fill it (one flooding source leaves the other half to every other peer), while a
 * busy legitimate peer keeps the rate the whole cache allowed before per-source budgets:
 * 100 000 per 60 s, ~1 660 new streams/s sustained. An eighth (25 000, ~400/s) refused a
 * node's own short connections through the tunnel (2 000/s measured in scenario 6 of
 * `make bench`) as rate-limited within seconds.
 */
export const DEFAULT_MAX_NONCES_PER_SOURCE = 100_000;

/** Options of {@linkcode RequestVerifier}. */
export interface RequestVerifierOptions {
  readonly key: TunnelKey;
  /** Further keys a signature may be made with (`tunnelAcceptKeyFiles`: key rotation). */
  readonly accept?: readonly TunnelKey[];
  /** Accepted clock difference either way, ms. @default 60000 */
  readonly windowMs?: number;
  /**
   * Most nonces remembered in all; beyond it new requests are refused (`cache-full`), never a
   * nonce forgotten early. @default 200000
   */
  readonly maxNonces?: number;
  /**
   * Most nonces remembered for one source (the remote address a request came from); beyond it
   * that source's new requests are refused (`rate-limited`) while other sources are served.
   * As a nonce is remembered only while its timestamp is in the window, this is a sliding-window
   * rate limit: about this many streams per window (60 s) per source. @default 100000
   */
  readonly maxNoncesPerSource?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

/** Granularity of nonce expiry: nonces are dropped in buckets of this many ms. */
const BUCKET_MS = 1000;

/**
 * Verifies signed requests and remembers their nonces, each with the source it came from.
 *
 * A nonce is kept exactly as long as its request could be accepted again: the timestamp check
 * accepts a request while `|timestamp − now| ≤ window`, so once `now > timestamp + window` the
 * request is `stale` whatever its nonce, and the nonce is forgotten (in 1 s buckets). An honest
 * peer's nonce (timestamp ≈ now) lives about one window, a nonce timestamped at the far edge of
 * the future at most two. So the cache holds at most the requests accepted within the last
 * two windows, and each source at most `maxNoncesPerSource` of them: one source (say, any holder
 * of the cluster key flooding signed requests) is refused with `rate-limited` once it holds its
 * share, and cannot fill the cache for the others.
 *
 * Why the remote address is the source and not the node name in the signed headers: every
 * node holds the same key, so any key holder can sign any node name; the address of a TCP
 * connection cannot be forged without being on the path back.
 */
export class RequestVerifier {
  /** The signing key first, then the accepted ones. */
  #keys: readonly TunnelKey[];
  readonly #windowMs: number;
  readonly #maxNonces: number;
  readonly #maxPerSource: number;
  readonly #now: () => number;
  /** nonce → its source. */
  readonly #seen = new Map<string, string>();
  /** source → how many of the remembered nonces are its. */
  readonly #perSource = new Map<string, number>();
  /** expiry bucket (`floor((timestamp + window) / BUCKET_MS)`) → the nonces expiring in it. */
  readonly #buckets = new Map<number, string[]>();
  /** Every bucket below this one has been dropped. */
  #cursor: number;

  constructor(options: RequestVerifierOptions) {
    this.#keys = [options.key, ...(options.accept ?? [])];
    this.#windowMs = options.windowMs ?? 60_000;
    this.#maxNonces = options.maxNonces ?? DEFAULT_MAX_NONCES;
    this.#maxPerSource = options.maxNoncesPerSource ?? DEFAULT_MAX_NONCES_PER_SOURCE;
    this.#now = options.now ?? Date.now;
    this.#cursor = Math.floor(this.#now() / BUCKET_MS);
  }

  /**
   * Verifies with these keys from now on (a reload of the key files); the nonce cache is kept,
   * so a request accepted before cannot be replayed after.
   */
  setKeys(key: TunnelKey, accept: readonly TunnelKey[] = []): void {
    this.#keys = [key, ...accept];
  }

  /** Nonces currently remembered. */
  get cachedNonces(): number {
    return this.#seen.size;
  }

  /** Nonces currently remembered for `source`. */
  cachedNoncesOf(source: string): number {
    return this.#perSource.get(source) ?? 0;
  }

  /**
   * Checks timestamp, MAC (constant time) and nonce; records the nonce, counted against
   * `source` (the request's remote address), when all pass and `source` and the cache have room.
   */
  verify(h: StreamHeaders, source = ""): Promise<VerifyResult> {
    return Promise.resolve(this.#verify(h, source));
  }

  #verify(h: StreamHeaders, source: string): VerifyResult {
    const now = this.#now();
    this.#prune(now);
    if (!/^\d{1,16}$/.test(h.timestamp) || !/^[0-9a-f]{16,64}$/.test(h.nonce)) {
      return { ok: false, failure: "malformed" };
    }
    const timestamp = Number(h.timestamp);
    if (Math.abs(timestamp - now) > this.#windowMs) {
      return { ok: false, failure: "stale" };
    }
    const given = fromHex(h.signature);
    if (given === null) return { ok: false, failure: "malformed" };
    // Every key is tried (no early exit), each compared in constant time.
    const signed = canonicalBytes(h);
    let matched = false;
    for (const key of this.#keys) {
      if (constantTimeEqual(given, key.mac(signed))) matched = true;
    }
    if (!matched) return { ok: false, failure: "bad-signature" };
    if (this.#seen.has(h.nonce)) return { ok: false, failure: "replayed" };
    const held = this.#perSource.get(source) ?? 0;
    if (held >= this.#maxPerSource) return { ok: false, failure: "rate-limited" };
    if (this.#seen.size >= this.#maxNonces) return { ok: false, failure: "cache-full" };
    // A clock that went back could put the bucket below the cursor: keep it longer instead.
    const bucket = Math.max(
      this.#cursor,
      Math.floor((timestamp + this.#windowMs) / BUCKET_MS),
    );
    this.#seen.set(h.nonce, source);
    this.#perSource.set(source, held + 1);
    const list = this.#buckets.get(bucket);
    if (list) list.push(h.nonce);
    else this.#buckets.set(bucket, [h.nonce]);
    return { ok: true };
  }

  /** Drops every bucket whose nonces all expired (`now > timestamp + window` for each). */
  #prune(now: number): void {
    const current = Math.floor(now / BUCKET_MS);
    if (current <= this.#cursor) return;
    if (current - this.#cursor > this.#buckets.size) {
      // A long idle time: look at the buckets that exist rather than at every second.
      for (const bucket of [...this.#buckets.keys()]) if (bucket < current) this.#drop(bucket);
    } else {
      for (let b = this.#cursor; b < current; b++) this.#drop(b);
    }
    this.#cursor = current;
  }

  #drop(bucket: number): void {
    const list = this.#buckets.get(bucket);
    if (!list) return;
    this.#buckets.delete(bucket);
    for (const nonce of list) {
      const source = this.#seen.get(nonce);
      if (source === undefined) continue;
      this.#seen.delete(nonce);
      const left = (this.#perSource.get(source) ?? 1) - 1;
      if (left > 0) this.#perSource.set(source, left);
      else this.#perSource.delete(source);
    }
  }
}
