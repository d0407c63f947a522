// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The tunnel server's streams: each request on the server behind the front is checked — its
 * connection came through the front, it is signed with the cluster key (nonce budget per
 * remote address), its target is a ready endpoint of that service on this node in the
 * registry snapshot ({@linkcode authorizeStream}: never an open proxy) — then the endpoint is
 * dialled and the stream's frames copied to and from it with half-close.
 * @module
 */
import { type Logger, LogRateLimiter } from "../log/mod.ts";
import { resetQuietly, type UpstreamConn } from "../proxy/dialer.ts";
import { specialIpKind, specialIpProblem } from "../netaddr/mod.ts";
import type { FrontPeer } from "../sys/http_front.ts";
import {
  type Backend,
  backendsFor,
  EMPTY_SNAPSHOT,
  isUsable,
  serviceKey,
  type Snapshot,
} from "../registry/model.ts";
import type { RequestVerifier, VerifyFailure } from "./auth.ts";
import { FramedChannel, STREAM_WINDOW } from "./channel.ts";
import type { TunnelMetrics } from "./metrics.ts";
import type { BackendDial } from "./tcp.ts";
import {
  formatHostPort,
  HEADERS,
  parseStreamTarget,
  PING_PATH,
  readStreamHeaders,
  REFUSAL_HEADER,
  REFUSAL_STATUS,
  type RefusalReason,
  STREAM_PATH,
  type StreamTarget,
} from "./wire.ts";

/** Result of {@linkcode authorizeStream}. */
export type Authorization =
  | { readonly ok: true; readonly backend: Backend }
  | {
    readonly ok: false;
    readonly reason: Extract<RefusalReason, "unknown-service" | "endpoint-not-local">;
    readonly detail: string;
  };

/**
 * Decides whether this node may connect a stream to its target: the service and its TCP
 * port must exist in `snapshot`, and the endpoint must be a backend of that port a peer's
 * proxy may pick — ready, or serving and terminating (its fallback when the service has no
 * ready endpoint, KEP-1669) — whose `nodeName` is exactly `nodeName` (an endpoint of unknown
 * node is never served to peers). An endpoint address that can never be an endpoint —
 * loopback, unspecified, link-local (`specialIpProblem`, what Kubernetes refuses) — is refused
 * whatever the snapshot says: the registry refuses such endpoints and drops them from loaded
 * state, and this check keeps a peer's stream off this node's own loopback-only listeners
 * should one ever reach a snapshot anyway.
 */
export function authorizeStream(
  snapshot: Snapshot,
  nodeName: string,
  t: StreamTarget,
  options: { readonly loopbackEndpointsForTests?: boolean } = {},
): Authorization {
  const special = specialIpProblem(t.endpointIp);
  const allowed = options.loopbackEndpointsForTests === true &&
    specialIpKind(t.endpointIp) === "loopback";
  if (special !== null && !allowed) {
    return {
      ok: false,
      reason: "endpoint-not-local",
      detail: `endpoint ${special}: never served to peers`,
    };
  }
  const key = serviceKey(t.namespace, t.service);
  const entry = snapshot.services.get(key);
  if (!entry) return { ok: false, reason: "unknown-service", detail: `no service "${key}"` };
  const port = entry.service.ports.find((p) => p.port === t.port && p.protocol === "TCP");
  if (!port) {
    return { ok: false, reason: "unknown-service", detail: `"${key}" has no TCP port ${t.port}` };
  }
  const ep = formatHostPort(t.endpointIp, t.endpointPort);
  const backend = backendsFor(entry, port, isUsable).find((b) =>
    b.ip === t.endpointIp && b.port === t.endpointPort
  );
  if (!backend) {
    return {
      ok: false,
      reason: "endpoint-not-local",
      detail: `${ep} is not a ready or serving endpoint of "${key}" port ${t.port}`,
    };
  }
  if (backend.nodeName !== nodeName) {
    return {
      ok: false,
      reason: "endpoint-not-local",
      detail: `${ep} of "${key}" is on node "${
        backend.nodeName ?? "<unknown>"
      }", not "${nodeName}"`,
    };
  }
  return { ok: true, backend };
}

/** Copy buffer size per direction of a stream. */
const COPY_CHUNK = 64 * 1024;

/** The warning per authentication failure: what went wrong and what an operator should check. */
const AUTH_WARNINGS: Readonly<Record<VerifyFailure | "missing", string>> = {
  "bad-signature": "Tunnel peer failed authentication (bad signature): check that both nodes use " +
    "the same tunnelKeyFile",
  stale: "Tunnel peer failed authentication (timestamp outside the replay window): check that " +
    "the clocks of both nodes agree (NTP)",
  replayed: "Tunnel peer failed authentication (nonce replayed): a captured request sent again",
  "rate-limited": "Tunnel peer rate-limited: this address opened more streams within the replay " +
    "window than one address may (its share of the nonce cache); its streams are refused " +
    "until its nonces expire, other peers are not affected",
  "cache-full": "Tunnel refused a stream: the nonce cache is full (too many streams from all " +
    "peers within the replay window); streams are refused until nonces expire",
  malformed: "Tunnel peer failed authentication (malformed signed headers): not an edgemesh " +
    "peer, or an incompatible version",
  missing: "Tunnel peer failed authentication (no signed headers): not an edgemesh peer, or an " +
    "incompatible version",
};

/** What {@linkcode TunnelStreams} needs of the server (see `TunnelServerOptions`). */
export interface TunnelStreamsOptions {
  readonly log: Logger;
  readonly metrics: TunnelMetrics;
  /** Checks the signed headers (its keys are replaced on a key reload). */
  readonly verifier: Promise<RequestVerifier>;
  readonly dial: BackendDial;
  /** Aborted when the tunnel stops: ends the endpoint dials in flight. */
  readonly signal: AbortSignal;
  readonly now: () => number;
  readonly nodeName: string;
  readonly dialTimeoutMs: number | undefined;
  readonly loopbackEndpointsForTests: boolean | undefined;
}

/** Handles the streams of one tunnel server's `Deno.serve`s and holds those open. */
export class TunnelStreams {
  readonly #log: Logger;
  readonly #metrics: TunnelMetrics;
  readonly #verifier: Promise<RequestVerifier>;
  readonly #dial: BackendDial;
  readonly #signal: AbortSignal;
  readonly #nodeName: string;
  readonly #dialTimeoutMs: number | undefined;
  readonly #loopbackEndpointsForTests: boolean | undefined;
  readonly #conns = new Set<{ channel: FramedChannel; conn: UpstreamConn }>();
  readonly #tasks = new Set<Promise<void>>();
  /** One failed-authentication warning per remote address and minute. */
  readonly #authWarnings: LogRateLimiter;
  #snapshot: Snapshot = EMPTY_SNAPSHOT;

  constructor(options: TunnelStreamsOptions) {
    this.#log = options.log;
    this.#metrics = options.metrics;
    this.#verifier = options.verifier;
    this.#dial = options.dial;
    this.#signal = options.signal;
    this.#nodeName = options.nodeName;
    this.#dialTimeoutMs = options.dialTimeoutMs;
    this.#loopbackEndpointsForTests = options.loopbackEndpointsForTests;
    this.#authWarnings = new LogRateLimiter({ now: options.now });
  }

  /** Takes the registry snapshot that authorizes streams. */
  update(snapshot: Snapshot): void {
    this.#snapshot = snapshot;
  }

  /** Streams currently being served. */
  get active(): number {
    return this.#conns.size;
  }

  /** Resolves once the streams being served now have ended. */
  settled(): Promise<unknown> {
    return Promise.all(this.#tasks);
  }

  /**
   * Resets every open stream and its endpoint connection (the tunnel is stopping): the dialing
   * agent's client and the endpoint both see the abort, not a complete transfer.
   */
  closeAll(): void {
    for (const { channel, conn } of this.#conns) {
      channel.close();
      resetQuietly(conn);
    }
  }

  #refuse(reason: RefusalReason, fields: Record<string, unknown>, detail: string): Response {
    this.#metrics.refusals.inc({ reason });
    this.#metrics.streams.inc({ direction: "in", result: reason });
    this.#log.debug("tunnel stream refused", { reason, ...fields, detail });
    return new Response(reason === "unauthenticated" ? reason : detail, {
      status: REFUSAL_STATUS[reason],
      headers: { [REFUSAL_HEADER]: reason },
    });
  }

  /**
   * Serves one request of the server behind the front: `peer` is the front's connection it
   * came on (`HttpFront.peerOf` of `inner`, the address the server sees), null when
   * there is none. Verifies the signed headers, authorizes the target, dials the endpoint and
   * answers 200 with the stream's body, or refuses with the reason.
   */
  async handle(req: Request, peer: FrontPeer | null, inner: Deno.NetAddr): Promise<Response> {
    if (peer === null) {
      // The front's connection has closed already (nobody reads the answer), or this one did
      // not come through the front (a local process on the loopback port): no address to
      // charge, so nothing is verified or served.
      this.#authWarnings.warn(
        this.#log,
        "not-through-front",
        "Tunnel refused a stream on a connection that did not come through its listener",
        { inner: formatHostPort(inner.hostname, inner.port) },
      );
      await req.body?.cancel();
      return new Response("no such connection", { status: 503 });
    }
    const path = new URL(req.url).pathname;
    if (path === PING_PATH && (req.method === "GET" || req.method === "HEAD")) {
      // A peer's heartbeat (`heartbeat.ts`): it proves nothing about the key, so it neither
      // establishes the connection (the front's timeout stays) nor counts as a refusal.
      await req.body?.cancel();
      return new Response(null, { status: 204 });
    }
    const remote = peer.remoteAddr;
    const from = formatHostPort(remote.hostname, remote.port);
    if (req.method !== "POST" || path !== STREAM_PATH) {
      return this.#refuse("bad-request", { from }, `no such endpoint ${req.method} ${req.url}`);
    }
    const raw = readStreamHeaders(req.headers);
    if (raw === null) {
      this.#metrics.authFailures.inc();
      this.#warnUnauthenticated(remote, null, "missing");
      return this.#refuse("unauthenticated", { from, why: "missing" }, "missing signed headers");
    }
    // The budget is the remote address's: the signed node name is any key holder's to claim.
    const verdict = await (await this.#verifier).verify(raw, remote.hostname);
    // Signed with the cluster key (served, or refused for room in the nonce cache): a peer's
    // connection, exempt from the establish timeout from now on.
    if (verdict.ok || verdict.failure === "rate-limited" || verdict.failure === "cache-full") {
      peer.establish();
    }
    if (!verdict.ok) {
      const failure = verdict.failure;
      const fields = { from, source: raw.source, why: failure };
      if (failure === "rate-limited" || failure === "cache-full") {
        // Signed with the cluster key: no authentication failure, a refusal of its own.
        this.#warnUnauthenticated(remote, raw.source, failure);
        return this.#refuse(
          failure,
          fields,
          failure === "rate-limited"
            ? `too many streams from ${remote.hostname} within the replay window`
            : "too many streams within the replay window (nonce cache full)",
        );
      }
      this.#metrics.authFailures.inc();
      this.#warnUnauthenticated(remote, raw.source, failure);
      return this.#refuse("unauthenticated", fields, failure);
    }
    const parsed = parseStreamTarget(raw);
    if (!parsed.ok) return this.#refuse("bad-request", { from, source: raw.source }, parsed.error);
    const t = parsed.target;
    const fields = {
      from,
      source: t.source,
      service: `${t.namespace}/${t.service}`,
      port: t.port,
      endpoint: formatHostPort(t.endpointIp, t.endpointPort),
    };
    const auth = authorizeStream(this.#snapshot, this.#nodeName, t, {
      loopbackEndpointsForTests: this.#loopbackEndpointsForTests,
    });
    if (!auth.ok) return this.#refuse(auth.reason, fields, auth.detail);
    let conn: UpstreamConn;
    try {
      conn = await this.#dial(auth.backend, {
        timeoutMs: this.#dialTimeout(req.headers.get(HEADERS.dialTimeout)),
        signal: this.#signal,
      });
    } catch (err) {
      return this.#refuse(
        "dial-failed",
        fields,
        `Cannot connect to ${fields.endpoint}: ${(err as Error)?.message ?? String(err)}`,
      );
    }
    this.#metrics.streams.inc({ direction: "in", result: "ok" });
    this.#log.debug("tunnel stream open", fields);
    return new Response(this.#serve(conn, req.body, fields), { status: 200 });
  }

  /**
   * A peer failed authentication: with a key that differs between nodes (or clocks apart)
   * every stream from it fails, a configuration error an operator must see at the default
   * level. Once per remote address and minute, with the count left out; the per-stream line
   * stays at debug. `source` is the node name the request claims (not proven). A refusal for
   * want of room in the nonce cache (`rate-limited`, `cache-full`) is warned the same way,
   * counted apart from authentication failures so neither hides the other.
   */
  #warnUnauthenticated(
    remote: Deno.NetAddr,
    source: string | null,
    why: VerifyFailure | "missing",
  ): void {
    const key = why === "rate-limited" || why === "cache-full"
      ? `${why} ${remote.hostname}`
      : remote.hostname;
    this.#authWarnings.warn(this.#log, key, AUTH_WARNINGS[why], {
      from: formatHostPort(remote.hostname, remote.port),
      ...(source !== null ? { source } : {}),
      why,
    });
  }

  #dialTimeout(header: string | null): number {
    const cap = this.#dialTimeoutMs ?? 5000;
    const asked = header !== null && /^\d{1,7}$/.test(header) ? Number(header) : cap;
    return Math.max(50, Math.min(asked, cap));
  }

  /**
   * Joins the stream and the endpoint: peer → endpoint and endpoint → peer, each direction
   * half-closed on its own (FIN → `closeWrite`, endpoint EOF → FIN). Returns the response body.
   * A failure of either side — the dialing agent reset the stream (its client reset, or its
   * connection died), the peer connection was lost, the endpoint reset — resets the other: the
   * stream (RST_STREAM) and the endpoint connection (`resetQuietly`: the agent's
   * `tcpBackendDial()` resets its `Deno.TcpConn` through FFI, `lib/sys/tcp_reset.ts`; without
   * the C library it gets a FIN — see README.md, "How streams end").
   */
  #serve(
    conn: UpstreamConn,
    requestBody: ReadableStream<Uint8Array> | null,
    fields: Record<string, unknown>,
  ): ReadableStream<Uint8Array> {
    const bytes = this.#metrics.bytes;
    const channel = new FramedChannel(STREAM_WINDOW, {
      onBytes: (direction, n) => bytes.inc({ direction }, n),
    }, { endAfterIncoming: true });
    const pair = { channel, conn };
    this.#conns.add(pair);
    this.#metrics.active.inc({ direction: "in" });
    channel.attach(requestBody ?? new ReadableStream({ start: (c) => c.close() }));
    const task = Promise.all([
      copy(channel, conn).then(() => conn.closeWrite().catch(() => {})),
      copy(conn, channel).then(() => channel.closeWrite()),
    ]).then(
      () => this.#log.debug("tunnel stream closed", fields),
      (err) => {
        this.#log.debug("tunnel stream reset", { ...fields, error: err });
        channel.close();
        resetQuietly(conn);
      },
    ).finally(() => {
      closeQuietly(conn);
      this.#conns.delete(pair);
      this.#metrics.active.dec({ direction: "in" });
    });
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
    return channel.outgoing;
  }
}

/** Closes a connection that may be closed already (`Deno.TcpConn.close` throws then). */
function closeQuietly(conn: UpstreamConn): void {
  try {
    conn.close();
  } catch { /* already closed */ }
}

/** Copies `from` → `to` until EOF. */
async function copy(
  from: Pick<UpstreamConn, "read">,
  to: Pick<UpstreamConn, "write">,
): Promise<void> {
  const buf = new Uint8Array(COPY_CHUNK);
  while (true) {
    const n = await from.read(buf);
    if (n === null) return;
    let off = 0;
    while (off < n) off += await to.write(buf.subarray(off, n));
  }
}
