// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Returns the free memory of the C heap to the kernel on a timer.
 *
 * Deno's runtime (its Rust side, V8's off-heap buffers, subprocess and socket I/O) allocates
 * with glibc malloc from several threads. glibc gives memory back on its own only from the top
 * of the main heap; what a burst freed elsewhere — 1000 services over the control socket, the
 * `ip` calls, the listeners — stays resident in the arenas. The buffers of a burst are freed
 * late, when a V8 garbage collection reaches their JavaScript owners, so no single moment after
 * a change is the right one: like the Go runtime's scavenger or tcmalloc's background release,
 * the agent trims periodically. A call costs microseconds when there is nothing to release and
 * under 1 ms after a burst. Measured with 1000 services, a minute after the burst (three paired
 * runs): 34 MiB of anonymous RSS against 36–40 MiB without (`bench/README.md`).
 * @module
 */
import type { Logger } from "../log/mod.ts";

/** How often the C heap is trimmed, ms. */
export const HEAP_TRIM_MS = 10_000;

/** Options of {@linkcode startHeapTrim}. */
export interface HeapTrimOptions {
  /**
   * Releases free heap memory: `trimMallocHeap` from `lib/sys`. Returns null when it cannot
   * (no C library, not glibc); the timer then stops.
   */
  readonly trim: () => boolean | null;
  /** @default {HEAP_TRIM_MS} */
  readonly intervalMs?: number;
  readonly log: Logger;
  /** The interval timer (tests drive a fake one). @default globalThis */
  readonly timers?: IntervalTimers;
}

/** The two timer functions the trimmer uses: `globalThis`, or a fake in tests. */
export interface IntervalTimers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(id: unknown): void;
}

/** A running heap trimmer; `close()` stops it. */
export interface HeapTrim {
  readonly name: string;
  close(): void;
}

/**
 * Calls `trim` every `intervalMs` until closed, or until `trim` returns null.
 * @throws {RangeError} unless `intervalMs` is a positive finite number
 */
export function startHeapTrim(options: HeapTrimOptions): HeapTrim {
  const every = options.intervalMs ?? HEAP_TRIM_MS;
  if (!(every > 0 && Number.isFinite(every))) {
    throw new RangeError(`Cannot trim the heap every ${every} ms: the interval must be positive`);
  }
  const timers = options.timers ?? globalThis;
  const timer = timers.setInterval(() => {
    if (options.trim() !== null) return;
    timers.clearInterval(timer);
    options.log.debug("C heap not trimmed: malloc_trim is not available (no glibc via FFI)");
  }, every);
  return { name: "heap trim", close: () => timers.clearInterval(timer) };
}
