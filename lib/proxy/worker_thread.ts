// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The main thread's side of one proxy worker ({@linkcode WorkerThread}): its `Worker`, what it
 * last reported (metrics, applied snapshot, services it still drains), the snapshot queued for
 * it, and the requests waiting for its answers ({@linkcode WorkerThread.request}).
 * @module
 */
import type { FamilySnapshot } from "../metrics/mod.ts";
import type { ServiceKey, Snapshot } from "../registry/model.ts";
import type { CursorSlot } from "./cursors.ts";
import type { FromWorker, ToWorker } from "./thread_messages.ts";

/** A request to a worker waiting for its answer. */
interface Waiter {
  resolve(m: FromWorker | null): void;
}

/** One worker thread of {@linkcode ProxyThreads} as the main thread sees it. */
export class WorkerThread {
  readonly thread: number;
  worker: Worker | null = null;
  /** Answers awaited, by kind and sequence number. */
  readonly waiting = new Map<string, Waiter>();
  metrics: FamilySnapshot[] = [];
  restartTimer: ReturnType<typeof setTimeout> | undefined;
  /** The snapshot to send once the one in flight is applied (later ones replace it). */
  queued:
    | { snapshot: Snapshot; gen: number; slots: CursorSlot[]; done: PromiseWithResolvers<void> }
    | null = null;
  /** Number of the last snapshot the worker applied (0: none yet). */
  applied = 0;
  /** Services the worker still drains, as of its last `updated` and `retired` messages. */
  readonly retiring = new Set<ServiceKey>();
  sending = false;
  constructor(thread: number) {
    this.thread = thread;
  }

  /** Sends `m` and resolves with the answer `kind`/`seq`, or null (crash, timeout, closed). */
  request(
    kind: string,
    seq: number,
    m: ToWorker,
    timeoutMs: number,
  ): Promise<FromWorker | null> {
    const worker = this.worker;
    if (worker === null) return Promise.resolve(null);
    const key = `${kind}:${seq}`;
    const { promise, resolve } = Promise.withResolvers<FromWorker | null>();
    const timer = setTimeout(() => {
      this.waiting.delete(key);
      resolve(null);
    }, timeoutMs);
    this.waiting.set(key, {
      resolve: (answer) => {
        clearTimeout(timer);
        resolve(answer);
      },
    });
    worker.postMessage(m);
    return promise;
  }

  /** Gives `m` to the request waiting for the answer `kind`/`seq`, if any. */
  answer(kind: string, seq: number, m: FromWorker): void {
    const key = `${kind}:${seq}`;
    const w = this.waiting.get(key);
    this.waiting.delete(key);
    w?.resolve(m);
  }
}
