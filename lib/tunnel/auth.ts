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
 * Reads the cluster key from `path` (`tunnelKeyFile`). The whole file is the key; a trailing
 * newline is kept (it is part of every node's copy of the same file).
 * @throws {TunnelSetupError} when the file is missing, unreadable or shorter than 32 bytes
 */
export async function loadTunnelKey(path: string): Promise<Uint8Array> {
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
    throw new TunnelSetupError(`Cannot load tunnel key "${path}" (tunnelKeyFile): ${why}`, {
      cause: err,
    });
  }
  if (bytes.length < MIN_KEY_BYTES) {
    throw new TunnelSetupError(
      `Cannot load tunnel key "${path}" (tunnelKeyFile): it has ${bytes.length} bytes, at least ${MIN_KEY_BYTES} are required`,
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

/** Why a request failed verification (all map to the `unauthenticated` refusal). */
export type VerifyFailure = "malformed" | "bad-signature" | "stale" | "replayed" | "cache-full";

/** Result of {@linkcode RequestVerifier.verify}. */
export type VerifyResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly failure: VerifyFailure };

/** Options of {@linkcode RequestVerifier}. */
export interface RequestVerifierOptions {
  readonly key: TunnelKey;
  /** Accepted clock difference either way, ms. @default 60000 */
  readonly windowMs?: number;
  /** Most nonces remembered; beyond it new requests are refused, never a nonce forgotten early. @default 200000 */
  readonly maxNonces?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

/**
 * Verifies signed requests and remembers their nonces. A nonce is kept for twice the window
 * after it was seen, which covers its timestamp's whole acceptance range.
 */
export class RequestVerifier {
  readonly #key: TunnelKey;
  readonly #windowMs: number;
  readonly #maxNonces: number;
  readonly #now: () => number;
  /** nonce → expiry (ms); insertion order is expiry order because expiry = now + 2·window. */
  readonly #seen = new Map<string, number>();

  constructor(options: RequestVerifierOptions) {
    this.#key = options.key;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#maxNonces = options.maxNonces ?? 200_000;
    this.#now = options.now ?? Date.now;
  }

  /** Nonces currently remembered. */
  get cachedNonces(): number {
    return this.#seen.size;
  }

  /** Checks timestamp, MAC (constant time) and nonce; records the nonce when all pass. */
  verify(h: StreamHeaders): Promise<VerifyResult> {
    return Promise.resolve(this.#verify(h));
  }

  #verify(h: StreamHeaders): VerifyResult {
    const now = this.#now();
    if (!/^\d{1,16}$/.test(h.timestamp) || !/^[0-9a-f]{16,64}$/.test(h.nonce)) {
      return { ok: false, failure: "malformed" };
    }
    if (Math.abs(Number(h.timestamp) - now) > this.#windowMs) {
      return { ok: false, failure: "stale" };
    }
    const given = fromHex(h.signature);
    if (given === null) return { ok: false, failure: "malformed" };
    const want = this.#key.mac(canonicalBytes(h));
    if (!constantTimeEqual(given, want)) return { ok: false, failure: "bad-signature" };
    this.#prune(now);
    if (this.#seen.has(h.nonce)) return { ok: false, failure: "replayed" };
    if (this.#seen.size >= this.#maxNonces) return { ok: false, failure: "cache-full" };
    this.#seen.set(h.nonce, now + 2 * this.#windowMs);
    return { ok: true };
  }

  #prune(now: number): void {
    for (const [nonce, expiry] of this.#seen) {
      if (expiry > now) break;
      this.#seen.delete(nonce);
    }
  }
}
