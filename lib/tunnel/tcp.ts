// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * A plain TCP dial of a backend with a timeout, the default local dialer of the
 * {@linkcode TunnelServer} (the agent may inject the proxy's own instead).
 * @module
 */
import type { UpstreamConn } from "../proxy/dialer.ts";
import type { Backend } from "../registry/model.ts";

/** How the tunnel server connects to a local endpoint. */
export type BackendDial = (
  backend: Backend,
  options: { readonly timeoutMs: number; readonly signal?: AbortSignal },
) => Promise<UpstreamConn>;

/**
 * Connects to `backend.ip:backend.port` over TCP, failing after `timeoutMs`.
 * @throws {Deno.errors.TimedOut} on timeout, the connect error otherwise
 */
export const tcpDialBackend: BackendDial = async (backend, { timeoutMs, signal }) => {
  signal?.throwIfAborted();
  const connecting = Deno.connect({ hostname: backend.ip, port: backend.port, transport: "tcp" });
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Deno.errors.TimedOut(`Connection timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    onAbort = () => reject(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([connecting, stop]);
  } catch (err) {
    // A connect that completes after we gave up must not leak its socket.
    connecting.then((c) => c.close(), () => {});
    throw err;
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener("abort", onAbort);
  }
};
