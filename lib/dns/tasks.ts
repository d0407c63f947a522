// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The DNS server's work in flight that outlives a loop iteration ({@linkcode ServerTasks}):
 * forwarded answers on their way to UDP clients and served TCP connections. `close()` waits
 * for them.
 * @module
 */
import type { Logger } from "../log/mod.ts";

/** Tasks the server waits for on close; a failure is logged at debug and never rejects. */
export class ServerTasks {
  readonly #tasks = new Set<Promise<unknown>>();
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Keeps `p` until it settles. */
  track(p: Promise<unknown>): void {
    const t = p.catch((err) => this.#log.debug("DNS task failed", { error: err }))
      .finally(() => this.#tasks.delete(t));
    this.#tasks.add(t);
  }

  /** Resolves once no task is left, including those tracked while waiting. */
  async settled(): Promise<void> {
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
  }
}
