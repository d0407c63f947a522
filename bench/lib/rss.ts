// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Resident memory of a process from `/proc/<pid>/status` (Linux), and a sampler that keeps
 * the peak while a scenario runs.
 * @module
 */

/**
 * A `/proc/<pid>/status` memory field. `VmRSS` = `RssAnon` + `RssFile` + `RssShmem`: `RssFile`
 * is the part backed by files (under `deno run` mostly the pages of the deno binary itself),
 * `RssAnon` the heaps (V8's pages, the C heap, thread stacks).
 */
export type StatusField = "VmRSS" | "VmHWM" | "RssAnon" | "RssFile" | "RssShmem";

/** Parses a `/proc/<pid>/status` field in kB into MiB; `null` when absent. */
export function parseStatusMiB(status: string, field: StatusField): number | null {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
  return m ? Number(m[1]) / 1024 : null;
}

/** Current RSS (or one of its parts) of `pid` in MiB, or `null` when the process is gone. */
export function rssMiB(pid: number, field: StatusField = "VmRSS"): number | null {
  try {
    return parseStatusMiB(Deno.readTextFileSync(`/proc/${pid}/status`), field);
  } catch {
    return null;
  }
}

/** Samples the RSS of a process every `intervalMs` until stopped; `stop()` returns the peak. */
export class RssSampler {
  #peak = 0;
  readonly #timer: ReturnType<typeof setInterval>;

  constructor(readonly pid: number, intervalMs = 50) {
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), intervalMs);
  }

  #sample(): void {
    const v = rssMiB(this.pid);
    if (v !== null && v > this.#peak) this.#peak = v;
  }

  /** Stops sampling; the peak RSS in MiB seen (0 if never sampled). */
  stop(): number {
    clearInterval(this.#timer);
    this.#sample();
    return this.#peak;
  }
}
