// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The cap on proxied connections open at once, over every proxy thread, derived from the
 * open-files limit (`lib/sys/fd_limits.ts`): at the cap the listeners stop accepting (new
 * connections wait in the kernel's backlog, as nginx does at `worker_connections`) and resume
 * once connections have closed, so no number of idle clients can make the agent reach `EMFILE`.
 *
 * The count lives in a `SharedArrayBuffer` shared by the threads: cell 0 is the total, cell
 * `t + 1` thread `t`'s share (so the main thread can take back the share of a worker that
 * crashed). Per connection this costs two atomic adds on accept and two on close; a listener
 * looks at the total before each `accept`.
 * @module
 */
import { type Logger, LogRateLimiter } from "../log/mod.ts";
import type { FdBudget } from "../sys/fd_limits.ts";
import { listenersPerThread } from "../sys/fd_limits.ts";

/** Most proxy threads (config `proxyThreads` is 1–64). */
const MAX_THREADS = 64;
/** While a listener waits for room, how often the shared count is looked at, ms. */
export const RESUME_CHECK_MS = 50;

/** The proxy's limits, the same on every thread (workers get them by structured clone). */
export interface ProxyLimits {
  /** Counts of open connections (see the module docs): `Int32Array` of 65 cells. */
  readonly cells: SharedArrayBuffer;
  /** Proxied connections open at once over all threads. */
  readonly maxConnections: number;
  /** `VIP:port` listeners each thread may open. */
  readonly maxListeners: number;
  /** The open-files limit they come from (named in warnings). */
  readonly openFiles: number;
}

/** The limits for `budget` on `threads` proxy threads. */
export function proxyLimits(budget: FdBudget, threads: number): ProxyLimits {
  return {
    cells: new SharedArrayBuffer(4 * (MAX_THREADS + 1)),
    maxConnections: budget.proxyConnections,
    maxListeners: listenersPerThread(budget, threads),
    openFiles: budget.limit,
  };
}

/** What a listener needs from the gate: whether to accept now, and a call when to resume. */
export interface AcceptGate {
  /** At the cap: do not accept. */
  readonly full: boolean;
  /** Calls `resume` once (not synchronously) when there is room again. */
  pause(resume: () => void): void;
}

/** No cap (a proxy built without limits, as in most tests). */
export const OPEN_GATE: AcceptGate = { full: false, pause: (resume) => queueMicrotask(resume) };

/** One thread's view of the shared connection count. */
export class ConnGate implements AcceptGate {
  readonly max: number;
  readonly #cells: Int32Array;
  readonly #thread: number;
  readonly #log: Logger;
  readonly #openFiles: number;
  readonly #warnings: LogRateLimiter;
  #waiting: (() => void)[] = [];
  #timer: ReturnType<typeof setInterval> | undefined;

  /** `thread`: 0 for the main thread, `n` for worker `n`. Without `limits`: no cap. */
  constructor(limits: ProxyLimits | null, thread: number, log: Logger, now?: () => number) {
    this.#cells = new Int32Array(limits?.cells ?? new SharedArrayBuffer(4 * (MAX_THREADS + 1)));
    this.max = limits?.maxConnections ?? Infinity;
    this.#thread = 1 + Math.min(MAX_THREADS - 1, Math.max(0, thread));
    this.#openFiles = limits?.openFiles ?? 0;
    this.#log = log;
    this.#warnings = new LogRateLimiter(now ? { now } : {});
  }

  /** Connections open now over every thread. */
  get open(): number {
    return Atomics.load(this.#cells, 0);
  }

  get full(): boolean {
    return Atomics.load(this.#cells, 0) >= this.max;
  }

  /** Counts an accepted connection. */
  acquire(): void {
    Atomics.add(this.#cells, 0, 1);
    Atomics.add(this.#cells, this.#thread, 1);
  }

  /** Counts a connection that ended; wakes this thread's waiting listeners below the cap. */
  release(): void {
    Atomics.sub(this.#cells, this.#thread, 1);
    const before = Atomics.sub(this.#cells, 0, 1);
    if (this.#waiting.length > 0 && before <= this.max) this.#wake();
  }

  pause(resume: () => void): void {
    this.#waiting.push(resume);
    this.#warnings.warn(
      this.#log,
      "cap",
      "Proxy connection cap reached, new connections wait until open ones close",
      { cap: this.max, openFilesLimit: this.#openFiles },
    );
    // Connections closing on other threads do not call release() here: look now and then.
    this.#timer ??= setInterval(() => {
      if (!this.full) this.#wake();
    }, RESUME_CHECK_MS);
  }

  /** Takes back the count of a worker thread that is gone (crashed or stopped). */
  forgetThread(thread: number): void {
    if (thread <= 0 || thread >= MAX_THREADS) return;
    const n = Atomics.exchange(this.#cells, thread + 1, 0);
    if (n !== 0) Atomics.sub(this.#cells, 0, n);
  }

  #wake(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    const waiting = this.#waiting;
    this.#waiting = [];
    // Not from within release(): the caller is in the middle of closing a connection.
    queueMicrotask(() => {
      for (const resume of waiting) resume();
    });
  }

  /** Stops the resume timer and lets waiting listeners go on (the proxy is closing). */
  close(): void {
    if (this.#waiting.length > 0) this.#wake();
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
