// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The main thread's load, for {@linkcode ProxyThreads}' `startWorkers: "when-busy"`: a sampler of
 * the thread's CPU use ({@linkcode mainThreadBusy}) and {@linkcode BusyWatch}, which checks it
 * and the proxy's traffic on a timer and says once when the workers should start.
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { threadCpuSeconds } from "../sys/mod.ts";
import type { Proxy } from "./proxy.ts";

/** Share of a core above which the main thread counts as busy (`when-busy`). */
export const BUSY_FRACTION = 0.5;

/**
 * A sampler of the calling thread's CPU use: the share of one core it used since the previous
 * call (`getrusage(RUSAGE_THREAD)` through the C library: Deno refuses to read `/proc/self`
 * without `--allow-all`). Null where that cannot be measured (no FFI permission).
 */
export function mainThreadBusy(): (() => number) | null {
  const first = threadCpuSeconds();
  if (first === null) return null;
  let lastCpu = first;
  let lastAt = performance.now();
  return () => {
    const cpu = threadCpuSeconds() ?? lastCpu;
    const at = performance.now();
    const share = at > lastAt ? (cpu - lastCpu) / ((at - lastAt) / 1000) : 0;
    lastCpu = cpu;
    lastAt = at;
    return Number.isFinite(share) ? share : 0;
  };
}

/**
 * `when-busy`: checks the main thread's load and the proxy's traffic every `everyMs`, and
 * calls `onBusy` once the load has stayed high (≥ {@linkcode BUSY_FRACTION} of a core, while
 * the proxy carries connections) for two checks in a row; then it stops checking.
 */
export class BusyWatch {
  readonly #log: Logger;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Starts checking `proxy` with the sampler `busy`; `onBusy` gets the last share. */
  start(proxy: Proxy, busy: () => number, everyMs: number, onBusy: (share: number) => void): void {
    let hot = 0;
    let accepted = proxy.accepted;
    this.#timer = setInterval(() => {
      let share = 0;
      try {
        share = busy();
      } catch (err) {
        this.#log.debug("Cannot read the main thread's load", { error: err });
      }
      const traffic = proxy.accepted !== accepted || proxy.activeConnections > 0;
      accepted = proxy.accepted;
      hot = share >= BUSY_FRACTION && traffic ? hot + 1 : 0;
      if (hot < 2) return;
      this.stop();
      onBusy(share);
    }, everyMs);
    Deno.unrefTimer(this.#timer);
  }

  /** Stops checking (idempotent). */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
