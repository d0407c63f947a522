// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * A state disk that was full or read-only and is fine again is noticed without waiting for a
 * change. While the registry's state writes fail (`Registry.writeError`), every change is
 * refused and `ctl status` says so; before, that stayed true only until the next change
 * happened to be written, so after the operator freed the disk, `ctl status` (and
 * `stateWriteError` in its JSON) went on reporting refused changes for as long as KubeEdge sent
 * nothing (QA: still set 7 s after freeing space, and indefinitely on a quiet node).
 *
 * {@linkcode startStateRetry} asks the registry to write its state again
 * (`Registry.retryWrite`, a full checkpoint) {@linkcode STATE_RETRY_MS} after a failure, then
 * after twice as long each time it fails again, up to {@linkcode STATE_RETRY_MAX_MS}: each
 * attempt on a full disk writes as much of the checkpoint as fits before it is removed, and
 * edge devices store state on flash. Attempts that fail again log at debug only.
 * @module
 */
import type { IntervalTimers } from "./heap_trim.ts";

/** The period of the retry timer, and the wait before the first attempt, ms. */
export const STATE_RETRY_MS = 5_000;
/** The longest wait between two attempts while they keep failing, ms. */
export const STATE_RETRY_MAX_MS = 300_000;

/** Options of {@linkcode startStateRetry}. */
export interface StateRetryOptions {
  /** Whether state writes fail (`Registry.writeError !== null`). */
  readonly failing: () => boolean;
  /** One attempt (`Registry.retryWrite`); resolves once it is done, never rejects. */
  readonly retry: () => Promise<void>;
  /** @default STATE_RETRY_MS */
  readonly intervalMs?: number;
  /** @default STATE_RETRY_MAX_MS */
  readonly maxMs?: number;
  /** @default globalThis */
  readonly timers?: IntervalTimers;
}

/** A running retry; `close()` stops it. */
export interface StateRetry {
  readonly name: string;
  close(): void;
}

/** Starts the retry (see the module docs); the agent closes it on the way out. */
export function startStateRetry(options: StateRetryOptions): StateRetry {
  const timers = options.timers ?? globalThis;
  const period = options.intervalMs ?? STATE_RETRY_MS;
  const maxTicks = Math.max(1, Math.round((options.maxMs ?? STATE_RETRY_MAX_MS) / period));
  /** Periods to wait before the next attempt, and the wait after a failed one. */
  let wait = 1;
  let gap = 1;
  let busy = false;
  const timer = timers.setInterval(() => {
    if (!options.failing()) {
      wait = gap = 1;
      return;
    }
    if (busy || --wait > 0) return;
    busy = true;
    options.retry().finally(() => {
      busy = false;
      if (options.failing()) gap = Math.min(gap * 2, maxTicks);
      wait = gap;
    });
  }, period);
  return { name: "state write retry", close: () => timers.clearInterval(timer) };
}
