// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * A service listener whose port another program held is opened within seconds of the port being
 * freed. A bind failure is retried with every reconcile pass; between changes that was the 30 s
 * resync, so a service stayed dark for up to 30 s after its port came free (QA: 30.2 s
 * measured). While any listener failed to bind (not for the listener budget, which a retry cannot
 * fix), {@linkcode startListenerRetry} asks for a pass every {@linkcode LISTENER_RETRY_MS}; a
 * failure that repeats is logged at debug only, so the retries add no log lines.
 * @module
 */
import type { IntervalTimers } from "./heap_trim.ts";

/** How often a pass is asked for while a listener failed to bind, ms (the device watch's period). */
export const LISTENER_RETRY_MS = 5_000;

/** Options of {@linkcode startListenerRetry}. */
export interface ListenerRetryOptions {
  /** Whether a listener is unbound for a reason a retry may fix (`failure: "bind"`). */
  readonly bindFailed: () => boolean;
  /** Asks for a reconcile pass (the Reconciler's `resync`). */
  readonly retry: () => void;
  /** @default LISTENER_RETRY_MS */
  readonly intervalMs?: number;
  /** @default globalThis */
  readonly timers?: IntervalTimers;
}

/** A running retry; `close()` stops it. */
export interface ListenerRetry {
  readonly name: string;
  close(): void;
}

/** Starts the retry (see the module docs); the agent closes it on the way out. */
export function startListenerRetry(options: ListenerRetryOptions): ListenerRetry {
  const timers = options.timers ?? globalThis;
  const timer = timers.setInterval(() => {
    if (options.bindFailed()) options.retry();
  }, options.intervalMs ?? LISTENER_RETRY_MS);
  return { name: "listener retry", close: () => timers.clearInterval(timer) };
}
