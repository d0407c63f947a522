// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The tunnel's wire format: one HTTP/2 stream (RFC 9113) per proxied connection.
 *
 * A stream is `POST /v1/stream` whose headers name the target and carry the proof of the
 * cluster key; the request body is client→server bytes and the response body the way back.
 * A refusal is a non-200 response with {@linkcode REFUSAL_HEADER} naming the reason.
 * Everything here is pure: encoding and typed parsing of headers.
 * @module
 */
import { formatHostPort, type HostPort, parseHostPort as parseAddress } from "../netaddr/mod.ts";

/** Path of the stream endpoint (`POST`). */
export const STREAM_PATH = "/v1/stream";

/**
 * Path of the heartbeat (`GET` or `HEAD`): answered 204 at once, without authentication, since
 * it carries and reveals nothing; the dialer sends it on a quiet session with open streams to
 * learn that the peer's agent still runs (see `heartbeat.ts`).
 */
export const PING_PATH = "/v1/ping";

/** Header names (lower case, as HTTP/2 sends them, RFC 9113 §8.2.1). */
export const HEADERS = {
  source: "x-edgemesh-source",
  service: "x-edgemesh-service",
  port: "x-edgemesh-port",
  endpoint: "x-edgemesh-endpoint",
  timestamp: "x-edgemesh-timestamp",
  nonce: "x-edgemesh-nonce",
  signature: "x-edgemesh-signature",
  dialTimeout: "x-edgemesh-dial-timeout-ms",
} as const;

/** Response header naming why a stream was refused. */
export const REFUSAL_HEADER = "x-edgemesh-refusal";

/**
 * Why a peer refused a stream. `bad-request` covers malformed target headers of an
 * otherwise authenticated request. `rate-limited` and `cache-full` refuse a correctly signed
 * request for want of room in the replay cache: the sender's address holds its whole share
 * (`rate-limited`), or the cache as a whole is full (`cache-full`); neither says anything
 * about the key.
 */
export type RefusalReason =
  | "unauthenticated"
  | "unknown-service"
  | "endpoint-not-local"
  | "dial-failed"
  | "bad-request"
  | "rate-limited"
  | "cache-full";

/** Every refusal reason, for parsing and metrics. */
export const REFUSAL_REASONS: readonly RefusalReason[] = [
  "unauthenticated",
  "unknown-service",
  "endpoint-not-local",
  "dial-failed",
  "bad-request",
  "rate-limited",
  "cache-full",
];

/** HTTP status sent with each refusal (RFC 9110 §15; 429 Too Many Requests, RFC 6585 §4). */
export const REFUSAL_STATUS: Readonly<Record<RefusalReason, number>> = {
  "unauthenticated": 401,
  "unknown-service": 404,
  "endpoint-not-local": 403,
  "dial-failed": 502,
  "bad-request": 400,
  "rate-limited": 429,
  "cache-full": 503,
};

/** Parses a refusal header value; unknown values (a newer peer) map to null. */
export function parseRefusal(value: string | null): RefusalReason | null {
  return REFUSAL_REASONS.find((r) => r === value) ?? null;
}

/**
 * The signed header values exactly as sent. The signature covers these strings, not a
 * re-encoding of parsed values, so parsing can never disagree with what was signed.
 */
export interface StreamHeaders {
  readonly source: string;
  readonly service: string;
  readonly port: string;
  readonly endpoint: string;
  readonly timestamp: string;
  readonly nonce: string;
  readonly signature: string;
}

/** What a stream asks the peer to connect to. */
export interface StreamTarget {
  /** Node name of the sender. */
  readonly source: string;
  readonly namespace: string;
  readonly service: string;
  /** The service port (`ServicePort.port`), TCP. */
  readonly port: number;
  /** The chosen endpoint address and (target) port. */
  readonly endpointIp: string;
  readonly endpointPort: number;
}

export { formatHostPort, type HostPort };

/**
 * Parses `host:port`, `[v6]:port`, or a bare host when `defaultPort` is given.
 * @throws {SyntaxError} when the text is not an address
 * @throws {RangeError} when the port is outside 1–65535 (0 allowed with `allowZero`)
 */
export function parseHostPort(
  text: string,
  defaultPort?: number,
  allowZero = false,
): HostPort {
  return parseAddress(text, { defaultPort, minPort: allowZero ? 0 : 1 });
}

/** Reads the signed headers; null when any is missing (an unauthenticated request). */
export function readStreamHeaders(headers: Headers): StreamHeaders | null {
  const get = (name: string) => headers.get(name);
  const out = {
    source: get(HEADERS.source),
    service: get(HEADERS.service),
    port: get(HEADERS.port),
    endpoint: get(HEADERS.endpoint),
    timestamp: get(HEADERS.timestamp),
    nonce: get(HEADERS.nonce),
    signature: get(HEADERS.signature),
  };
  for (const v of Object.values(out)) if (v === null) return null;
  return out as StreamHeaders;
}

/** Parses the target of authenticated headers, or says what is wrong with them. */
export function parseStreamTarget(
  h: StreamHeaders,
): { readonly ok: true; readonly target: StreamTarget } | {
  readonly ok: false;
  readonly error: string;
} {
  const slash = h.service.indexOf("/");
  if (slash <= 0 || slash === h.service.length - 1 || h.service.indexOf("/", slash + 1) >= 0) {
    return { ok: false, error: `service "${h.service}" is not "<namespace>/<name>"` };
  }
  if (!/^\d{1,5}$/.test(h.port) || Number(h.port) < 1 || Number(h.port) > 65535) {
    return { ok: false, error: `service port "${h.port}" is out of range` };
  }
  let ep: HostPort;
  try {
    ep = parseHostPort(h.endpoint);
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
  return {
    ok: true,
    target: {
      source: h.source,
      namespace: h.service.slice(0, slash),
      service: h.service.slice(slash + 1),
      port: Number(h.port),
      endpointIp: ep.host,
      endpointPort: ep.port,
    },
  };
}

/** The unsigned header values for a target (timestamp, nonce and signature are added by auth). */
export function targetHeaderValues(
  t: StreamTarget,
): Pick<StreamHeaders, "source" | "service" | "port" | "endpoint"> {
  return {
    source: t.source,
    service: `${t.namespace}/${t.service}`,
    port: String(t.port),
    endpoint: formatHostPort(t.endpointIp, t.endpointPort),
  };
}

/** Builds the request headers from signed values. */
export function encodeStreamHeaders(h: StreamHeaders, dialTimeoutMs?: number): Headers {
  const out = new Headers();
  for (const [k, name] of Object.entries(HEADERS)) {
    const v = (h as unknown as Record<string, string | undefined>)[k];
    if (v !== undefined) out.set(name, v);
  }
  if (dialTimeoutMs !== undefined) out.set(HEADERS.dialTimeout, String(Math.round(dialTimeoutMs)));
  return out;
}
