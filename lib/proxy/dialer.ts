// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * How the proxy reaches a backend: a {@linkcode Dialer} returns an {@linkcode UpstreamConn}.
 * Local endpoints are dialled over TCP; remote ones through the inter-node tunnel, which
 * implements the same interface over an HTTP/2 stream.
 * @module
 */
import type { Backend, ServicePort } from "../registry/model.ts";

/** The byte-stream surface the proxy copies to and from (a subset of `Deno.TcpConn`). */
export interface UpstreamConn {
  /** Reads into `p`; resolves to the byte count, or null at EOF. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes some of `p`; resolves to the byte count written. */
  write(p: Uint8Array): Promise<number>;
  /** Half-close: signal EOF to the peer while still reading its reply. */
  closeWrite(): Promise<void>;
  /** Closes both directions; safe to call more than once. */
  close(): void;
  /**
   * Aborts the connection so the peer sees an error, not a clean end: TCP `FdConn` closes with
   * RST. Absent where the transport cannot (a `Deno.TcpConn` offers no `SO_LINGER`):
   * {@linkcode resetQuietly} closes then. A tunnel stream needs none: its `close()` before FIN
   * went both ways already resets the stream (RST_STREAM CANCEL).
   */
  reset?(): void;
}

/**
 * Ends `c` as aborted — {@linkcode UpstreamConn.reset} where it has one, else `close()` (FIN) —
 * ignoring "already closed". The proxy's answer to a cut connection (the other side failed,
 * drain expiry, shutdown): a client of a close-delimited protocol must not take a truncated
 * transfer for a complete one. Failure paths only.
 */
export function resetQuietly(c: UpstreamConn): void {
  try {
    if (c.reset) c.reset();
    else c.close();
  } catch {
    // already closed
  }
}

/** What a dial is for, so the tunnel can name the target and the peer can check it. */
export interface DialTarget {
  readonly namespace: string;
  readonly service: string;
  readonly port: ServicePort;
  readonly backend: Backend;
}

/** Opens a connection to one backend, failing within `timeoutMs`. */
export interface Dialer {
  dial(
    target: DialTarget,
    options: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<UpstreamConn>;
}
