// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * How a forwarded query travels to one upstream ({@linkcode UpstreamTransport}): the real
 * transport sends UDP through a bounded pool of shared sockets on random ports
 * (`udp_pool.ts`, RFC 5452 §9.2) and TCP over a new connection per exchange, both closed when
 * the attempt is aborted.
 * @module
 */
import { frameTcp } from "./message.ts";
import type { Upstream } from "./nameservers.ts";
import { UdpQueryPool, type UdpQueryPoolOptions } from "./udp_pool.ts";

/** How one query travels to one upstream; injectable for tests. */
export interface UpstreamTransport {
  /**
   * Sends `query` over UDP and resolves with the first datagram from the upstream that
   * `accept`s, or rejects on timeout/abort. `query` is the forwarder's own copy: the transport
   * may replace its ID (bytes 0–1) with one unique on the socket it shares with other queries
   * (RFC 5452 §9.2); `accept` and the TCP retry then use that ID.
   */
  udp(
    upstream: Upstream,
    query: Uint8Array,
    accept: (answer: Uint8Array) => boolean,
    signal: AbortSignal,
  ): Promise<Uint8Array>;
  /** Sends `query` over a new TCP connection (length-prefixed) and reads one answer. */
  tcp(upstream: Upstream, query: Uint8Array, signal: AbortSignal): Promise<Uint8Array>;
}

async function readFull(conn: Deno.Conn, buf: Uint8Array): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const n = await conn.read(buf.subarray(off));
    if (n === null) throw new Error("Cannot read DNS answer: connection closed");
    off += n;
  }
}

/**
 * Runs `exchange` on `conn`, closing the socket when `signal` aborts (Deno sockets take no
 * signal) and always afterwards; an abort surfaces as the signal's reason.
 */
async function closedOnAbort<C extends { close(): void }, T>(
  conn: C,
  signal: AbortSignal,
  exchange: (conn: C) => Promise<T>,
): Promise<T> {
  const close = () => conn.close();
  signal.addEventListener("abort", close, { once: true });
  try {
    signal.throwIfAborted();
    return await exchange(conn);
  } catch (err) {
    if (signal.aborted) throw signal.reason ?? err;
    throw err;
  } finally {
    signal.removeEventListener("abort", close);
    if (!signal.aborted) conn.close();
  }
}

/**
 * The real transport: UDP through a {@linkcode UdpQueryPool} (bounded shared sockets on random
 * ports, RFC 5452 §9.2), TCP over a new connection per exchange; both closed on abort.
 */
export function createDenoTransport(pool: UdpQueryPoolOptions = {}): UpstreamTransport {
  const udp = new UdpQueryPool(pool);
  return {
    udp: (upstream, query, accept, signal) => udp.query(upstream, query, accept, signal),
    tcp: denoTcp,
  };
}

async function denoTcp(
  upstream: Upstream,
  query: Uint8Array,
  signal: AbortSignal,
): Promise<Uint8Array> {
  signal.throwIfAborted();
  const conn = await Deno.connect({ hostname: upstream.hostname, port: upstream.port });
  return closedOnAbort(conn, signal, async (conn) => {
    const framed = frameTcp(query);
    let off = 0;
    while (off < framed.length) off += await conn.write(framed.subarray(off));
    const len = new Uint8Array(2);
    await readFull(conn, len);
    const body = new Uint8Array((len[0]! << 8) | len[1]!);
    await readFull(conn, body);
    return body;
  });
}

/** The transport of every forwarder not given one: one pool for the process. */
export const denoTransport: UpstreamTransport = createDenoTransport();
