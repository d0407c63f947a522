// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The services a multi-threaded proxy ({@linkcode ProxyThreads}) has dropped whose metric series
 * stay until no thread has connections of them any more ({@linkcode RetiringServices}).
 * @module
 */
import type { ServiceKey, Snapshot } from "../registry/model.ts";
import type { WorkerThread } from "./worker_thread.ts";

/**
 * Services gone from the snapshot whose series stay until every thread has retired them
 * (its connections of them have ended), with the number of the first snapshot without them.
 */
export class RetiringServices {
  readonly #since = new Map<ServiceKey, number>();

  /** Number of services retiring. */
  get size(): number {
    return this.#since.size;
  }

  /** Whether `service` is retiring. */
  has(service: ServiceKey): boolean {
    return this.#since.has(service);
  }

  /** The services retiring. */
  keys(): Iterable<ServiceKey> {
    return this.#since.keys();
  }

  /**
   * Notes the services `snapshot` (number `gen`) drops from `last`, the snapshot before it,
   * and those it brings back.
   */
  track(last: Snapshot | null, snapshot: Snapshot, gen: number): void {
    for (const service of last?.services.keys() ?? []) {
      if (!snapshot.services.has(service) && !this.#since.has(service)) {
        this.#since.set(service, gen);
      }
    }
    for (const service of this.#since.keys()) {
      if (snapshot.services.has(service)) this.#since.delete(service);
    }
  }

  /**
   * Takes out and returns the retiring services no thread has connections of any more: the
   * main proxy has retired them (not in `mainRetiring`), and every running worker of `threads`
   * has applied a snapshot without them and retired them too. A worker that is not running
   * (not started, crashed) has nothing to report.
   */
  settle(
    mainRetiring: ReadonlySet<ServiceKey>,
    threads: readonly WorkerThread[],
  ): ServiceKey[] {
    const done: ServiceKey[] = [];
    for (const [service, since] of this.#since) {
      if (mainRetiring.has(service)) continue;
      const busy = threads.some((t) =>
        t.worker !== null && (t.applied < since || t.retiring.has(service))
      );
      if (!busy) done.push(service);
    }
    for (const service of done) this.#since.delete(service);
    return done;
  }
}
