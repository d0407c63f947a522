// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The proxy on several threads (config `proxyThreads`): the main thread's {@linkcode Proxy}
 * plus worker threads running the same proxy on the same `VIP:port`s with `SO_REUSEPORT`; the
 * kernel spreads new connections over the listeners. One JavaScript thread tops out at one
 * core; HAProxy, nginx and Envoy all run a thread or process per core for this reason.
 *
 * What keeps the documented behaviour with several threads:
 * - round robin: one position per service port in shared memory ({@linkcode CursorTable}),
 *   so consecutive connections alternate whichever thread accepts them;
 * - ClientIP session affinity: only the main thread listens for such services (it holds the
 *   affinity table), so they behave exactly as with one thread;
 * - passive health: an ejection made on any thread is sent to all others;
 * - metrics: workers' series are summed into the main registry as of their last report
 *   ({@linkcode ProxyThreads.refreshMetrics}, which the agent awaits before each `/metrics`
 *   render, so nothing is sent while nobody scrapes); a deleted service's series are removed
 *   on every thread at once, when the last thread's last connection of it has ended, and a
 *   worker's report of a service that is neither in the snapshot nor retiring is ignored (a
 *   report made before the removal cannot bring the series back);
 * - drain, failover and half-close: each thread runs the same code on its own connections.
 *
 * A worker that crashes is logged and started again (with the last snapshot) after a second;
 * meanwhile its listeners are gone and the kernel gives their connections to the others.
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { type FamilySnapshot, keepSeries } from "../metrics/mod.ts";
import type { ServiceKey, Snapshot } from "../registry/model.ts";
import { threadCpuSeconds } from "../sys/mod.ts";
import { type CursorSlot, CursorTable } from "./cursors.ts";
import type { ProxyEngine } from "./engine.ts";
import { type ListenerStatus, Proxy, type ProxyOptions } from "./proxy.ts";
import type { FromWorker, ToWorker, WorkerSettings } from "./thread_messages.ts";

export type { WorkerSettings } from "./thread_messages.ts";

/** Options of {@linkcode ProxyThreads.start}. */
export interface ProxyThreadsOptions {
  /** Threads in all, main thread included (config `proxyThreads`); 1 runs no worker. */
  readonly threads: number;
  /** The main thread's proxy (its threading options are set here). */
  readonly proxy: Omit<ProxyOptions, "reusePort" | "statelessOnly" | "cursorOf" | "onEject">;
  /** What the workers need to build the same proxy. */
  readonly worker: WorkerSettings;
  /** How long a worker may take to start or to apply an update, ms. @default 30000 */
  readonly timeoutMs?: number;
  /** Wait before starting a crashed worker again, ms. @default 1000 */
  readonly restartDelayMs?: number;
  /**
   * When the workers start: `now` (in {@linkcode ProxyThreads.start}), or `when-busy`: once the
   * main thread has been busy (≥ {@linkcode BUSY_FRACTION} of a core) for two checks in a row
   * while the proxy carries connections, so an idle node never pays for them. @default "now"
   */
  readonly startWorkers?: "now" | "when-busy";
  /**
   * Share of a core the main thread used since the last call (tests). Without it and without
   * the C library (no FFI permission) `when-busy` cannot measure, and starts the workers at once.
   * @default {@linkcode mainThreadBusy}
   */
  readonly busySampler?: () => number;
  /** How often `when-busy` checks, ms. @default 1000 */
  readonly busyCheckMs?: number;
}

/** A request to a worker waiting for its answer. */
interface Waiter {
  resolve(m: FromWorker | null): void;
}

class WorkerThread {
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
}

/** The proxy on `threads` threads. Use it where a {@linkcode Proxy} is used. */
export class ProxyThreads {
  /** The main thread's proxy (binds every listener, including affinity services'). */
  readonly main: Proxy;
  readonly #log: Logger;
  readonly #settings: WorkerSettings;
  readonly #cursors = new CursorTable();
  readonly #threads: WorkerThread[] = [];
  readonly #timeoutMs: number;
  readonly #restartMs: number;
  #seq = 0;
  /** Number of the last snapshot (`update()` calls), as sent to the workers. */
  #gen = 0;
  #last: Snapshot | null = null;
  /**
   * Services gone from the snapshot whose series stay until every thread has retired them
   * (its connections of them have ended), with the number of the first snapshot without them.
   */
  readonly #retiring = new Map<ServiceKey, number>();
  #closed = false;
  #loadTimer: ReturnType<typeof setInterval> | undefined;
  #starting: Promise<void> | null = null;

  private constructor(options: ProxyThreadsOptions) {
    const workers = Math.max(0, options.threads - 1);
    this.#log = options.proxy.log;
    this.#settings = options.worker;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#restartMs = options.restartDelayMs ?? 1000;
    this.main = new Proxy({
      ...options.proxy,
      reusePort: workers > 0,
      cursorOf: workers > 0 ? (s, p) => this.#cursors.cursorOf(s, p) : undefined,
      onEject: workers > 0
        ? (key, forMs) => this.#broadcast({ type: "eject", key, forMs })
        : undefined,
      // One thread: the proxy removes a service's series itself once it has retired it.
      onServicesRetired: workers > 0 ? () => this.#settle() : undefined,
    });
    for (let i = 1; i <= workers; i++) this.#threads.push(new WorkerThread(i));
    if (workers > 0) {
      options.proxy.metrics?.addSource(() =>
        this.#threads.flatMap((t) => keepSeries(t.metrics, "service", (s) => this.#current(s)))
      );
    }
  }

  /** Whether `service` is in the last snapshot or retiring (its series are shown). */
  #current(service: ServiceKey): boolean {
    return this.#retiring.has(service) || (this.#last?.services.has(service) ?? false);
  }

  /**
   * Services gone from the snapshot whose series stay until every thread's connections of them
   * have ended (for tests and status).
   */
  get retiring(): ReadonlySet<ServiceKey> {
    return new Set(this.#retiring.keys());
  }

  /** Notes the services `snapshot` (number `gen`) drops, and those it brings back. */
  #track(snapshot: Snapshot, gen: number): void {
    if (this.#threads.length === 0) return;
    for (const service of this.#last?.services.keys() ?? []) {
      if (!snapshot.services.has(service) && !this.#retiring.has(service)) {
        this.#retiring.set(service, gen);
      }
    }
    for (const service of this.#retiring.keys()) {
      if (snapshot.services.has(service)) this.#retiring.delete(service);
    }
  }

  /**
   * Removes, on every thread, the series of the retiring services no thread has connections
   * of any more: the main proxy has retired them, and every running worker has applied a
   * snapshot without them and retired them too. A worker that is not running (not started,
   * crashed) has nothing to report. Runs on updates and on the threads' messages.
   */
  #settle(): void {
    if (this.#retiring.size === 0 || this.#closed) return;
    const done: ServiceKey[] = [];
    for (const [service, since] of this.#retiring) {
      if (this.main.retiring.has(service)) continue;
      const busy = this.#threads.some((t) =>
        t.worker !== null && (t.applied < since || t.retiring.has(service))
      );
      if (!busy) done.push(service);
    }
    if (done.length === 0) return;
    for (const service of done) this.#retiring.delete(service);
    this.main.forgetServices(done);
    this.#broadcast({ type: "forget", services: done });
  }

  /**
   * Starts the main proxy and `threads - 1` workers (resolves once every worker is ready).
   * @throws {Error} when a worker cannot start (the others are stopped again)
   */
  static async start(options: ProxyThreadsOptions): Promise<ProxyThreads> {
    const p = new ProxyThreads(options);
    if (p.#threads.length === 0) return p;
    const sampler = options.startWorkers === "when-busy"
      ? options.busySampler ?? mainThreadBusy()
      : null;
    if (sampler !== null) {
      p.#watchLoad(sampler, options.busyCheckMs ?? 1000);
      return p;
    }
    try {
      await Promise.all(p.#threads.map((t) => p.#spawn(t)));
    } catch (err) {
      await p.close();
      throw err;
    }
    p.#log.info("Proxy running on several threads", { threads: p.#threads.length + 1 });
    p.#workersUp.resolve();
    return p;
  }

  /** The socket engine the proxy threads run on (`proxyEngine`, `auto` resolved). */
  get engine(): ProxyEngine {
    return this.main.engine;
  }

  /** Whether the workers run (or are starting). */
  get workersStarted(): boolean {
    return this.#starting !== null || this.#threads.some((t) => t.worker !== null);
  }

  readonly #workersUp = Promise.withResolvers<void>();

  /**
   * Resolves once the workers run and have the last snapshot (at once with `now`; with
   * `when-busy` when the load started them; never if they never start).
   */
  get workersReady(): Promise<void> {
    return this.#workersUp.promise;
  }

  /** `when-busy`: checks the main thread's load and starts the workers when it stays high. */
  #watchLoad(busy: () => number, everyMs: number): void {
    let hot = 0;
    let accepted = this.main.accepted;
    this.#loadTimer = setInterval(() => {
      let share = 0;
      try {
        share = busy();
      } catch (err) {
        this.#log.debug("Cannot read the main thread's load", { error: err });
      }
      const traffic = this.main.accepted !== accepted || this.main.activeConnections > 0;
      accepted = this.main.accepted;
      hot = share >= BUSY_FRACTION && traffic ? hot + 1 : 0;
      if (hot < 2) return;
      clearInterval(this.#loadTimer);
      this.#loadTimer = undefined;
      this.#log.info("Proxy is busy, starting its worker threads", {
        threads: this.#threads.length + 1,
        mainThreadLoad: Math.round(share * 100) / 100,
      });
      this.#starting = this.#startWorkers();
    }, everyMs);
    Deno.unrefTimer(this.#loadTimer);
  }

  async #startWorkers(): Promise<void> {
    try {
      await Promise.all(this.#threads.map((t) => this.#spawn(t)));
      const last = this.#last;
      if (last !== null && !this.#closed) {
        const slots = this.#cursors.assign(last);
        await Promise.all(this.#threads.map((t) => this.#push(t, last, this.#gen, slots)));
      }
      this.#workersUp.resolve();
    } catch (err) {
      // The main thread keeps serving everything; a worker that started is stopped again.
      this.#log.error("Cannot start the proxy worker threads, staying on one thread", {
        error: err,
      });
      await Promise.all(this.#threads.map((t) => this.#stopWorker(t)));
      this.#settle();
    }
  }

  /** Number of threads, main included. */
  get threads(): number {
    return this.#threads.length + 1;
  }

  /**
   * Applies `snapshot` on every thread; resolves when all have (listeners bound or failed,
   * removed ones released). Never rejects.
   */
  async update(snapshot: Snapshot): Promise<void> {
    if (this.#closed) return;
    const gen = ++this.#gen;
    this.#track(snapshot, gen);
    this.#last = snapshot;
    const slots = this.#threads.length > 0 ? this.#cursors.assign(snapshot) : [];
    await Promise.all([
      this.main.update(snapshot),
      ...this.#threads.map((t) => this.#push(t, snapshot, gen, slots)),
    ]);
    this.#settle();
  }

  /**
   * Sends `snapshot` to a worker, latest wins: while one update is in flight, newer snapshots
   * replace each other in the queue (a burst of changes costs a worker a few structured
   * clones, not one per change). Resolves once this snapshot, or a later one, is applied.
   */
  #push(t: WorkerThread, snapshot: Snapshot, gen: number, slots: CursorSlot[]): Promise<void> {
    if (t.queued) {
      t.queued.snapshot = snapshot;
      t.queued.gen = gen;
      t.queued.slots = slots;
      return t.queued.done.promise;
    }
    const done = Promise.withResolvers<void>();
    t.queued = { snapshot, gen, slots, done };
    if (!t.sending) void this.#drain(t);
    return done.promise;
  }

  async #drain(t: WorkerThread): Promise<void> {
    t.sending = true;
    while (t.queued) {
      const { snapshot, gen, slots, done } = t.queued;
      t.queued = null;
      const seq = ++this.#seq;
      const m = await this.#request(t, "updated", seq, {
        type: "update",
        seq,
        gen,
        snapshot,
        slots,
      });
      if (m?.type === "updated" && m.unbound > 0) {
        this.#log.debug("Proxy worker could not bind some listeners", {
          thread: t.thread,
          unbound: m.unbound,
        });
      }
      done.resolve();
    }
    t.sending = false;
  }

  /** Asks every worker for its metrics (at most `timeoutMs` each) for the next render. */
  async refreshMetrics(timeoutMs = 1000): Promise<void> {
    const seq = ++this.#seq;
    await Promise.all(this.#threads.map(async (t) => {
      const m = await this.#request(t, "stats", seq, { type: "stats", seq }, timeoutMs);
      if (m?.type === "stats") t.metrics = m.metrics;
    }));
  }

  /** Listeners of the main thread (which binds them all), for `ctl status`. */
  listeners(): ListenerStatus[] {
    return this.main.listeners();
  }

  /** Endpoints currently ejected (every thread's ejections reach the main thread). */
  ejected(): string[] {
    return this.main.ejected();
  }

  /** Stops every thread: workers finish closing their proxies, then the main proxy closes. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      clearInterval(this.#loadTimer);
      await this.#starting;
      await Promise.all(this.#threads.map((t) => this.#stopWorker(t)));
    }
    await this.main.close();
  }

  async #stopWorker(t: WorkerThread): Promise<void> {
    clearTimeout(t.restartTimer);
    if (t.worker === null) return;
    await this.#request(t, "closed", 0, { type: "close" });
    t.worker?.terminate();
    t.worker = null;
    t.applied = 0;
    t.retiring.clear();
  }

  #spawn(t: WorkerThread): Promise<void> {
    const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
    t.worker = worker;
    worker.onmessage = (e: MessageEvent<FromWorker>) => this.#onMessage(t, e.data);
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.#crashed(t, e.message);
    };
    const ready = this.#request(t, "ready", 0, {
      type: "init",
      thread: t.thread,
      settings: this.#settings,
      cells: this.#cursors.cells.buffer as SharedArrayBuffer,
    });
    return ready.then((m) => {
      if (m?.type === "ready") return;
      throw new Error(
        `Cannot start proxy thread ${t.thread}: ${
          m?.type === "failed" ? m.error : "it did not start in time"
        }`,
      );
    });
  }

  #onMessage(t: WorkerThread, m: FromWorker): void {
    switch (m.type) {
      case "ready":
      case "failed":
        return this.#answer(t, "ready", 0, m);
      case "updated":
        // Handled here, in message order with `retired`, not when the update's promise runs.
        t.applied = m.gen;
        t.retiring.clear();
        for (const service of m.retiring) t.retiring.add(service);
        this.#answer(t, "updated", m.seq, m);
        return this.#settle();
      case "retired":
        for (const service of m.services) t.retiring.delete(service);
        return this.#settle();
      case "stats":
        return this.#answer(t, "stats", m.seq, m);
      case "closed":
        return this.#answer(t, "closed", 0, m);
      case "eject":
        this.main.applyEjection(m.key, m.forMs);
        return this.#broadcast({ type: "eject", key: m.key, forMs: m.forMs }, t);
      case "log":
        this.#log[m.level](m.msg, m.fields);
        return;
    }
  }

  /** A worker died: its requests are answered with null, and it is started again. */
  #crashed(t: WorkerThread, why: string): void {
    this.#log.error("Proxy worker thread crashed", { thread: t.thread, error: why });
    // Its connections are gone with it: they no longer count against the shared cap.
    this.main.forgetThreadConnections(t.thread);
    t.worker?.terminate();
    t.worker = null;
    t.metrics = [];
    t.applied = 0;
    t.retiring.clear();
    for (const w of t.waiting.values()) w.resolve(null);
    t.waiting.clear();
    if (this.#closed) return;
    this.#settle(); // it has no connections left to wait for
    t.restartTimer = setTimeout(async () => {
      t.restartTimer = undefined;
      if (this.#closed) return;
      try {
        await this.#spawn(t);
        const last = this.#last;
        if (last !== null) await this.#push(t, last, this.#gen, this.#cursors.assign(last));
        this.#log.info("Proxy worker thread restarted", { thread: t.thread });
      } catch (err) {
        this.#crashed(t, (err as Error).message);
      }
    }, this.#restartMs);
  }

  #broadcast(m: ToWorker, except?: WorkerThread): void {
    for (const t of this.#threads) if (t !== except) t.worker?.postMessage(m);
  }

  /** Sends `m` and resolves with the answer `kind`/`seq`, or null (crash, timeout, closed). */
  #request(
    t: WorkerThread,
    kind: string,
    seq: number,
    m: ToWorker,
    timeoutMs = this.#timeoutMs,
  ): Promise<FromWorker | null> {
    const worker = t.worker;
    if (worker === null) return Promise.resolve(null);
    const key = `${kind}:${seq}`;
    const { promise, resolve } = Promise.withResolvers<FromWorker | null>();
    const timer = setTimeout(() => {
      t.waiting.delete(key);
      resolve(null);
    }, timeoutMs);
    t.waiting.set(key, {
      resolve: (answer) => {
        clearTimeout(timer);
        resolve(answer);
      },
    });
    worker.postMessage(m);
    return promise;
  }

  #answer(t: WorkerThread, kind: string, seq: number, m: FromWorker): void {
    const key = `${kind}:${seq}`;
    const w = t.waiting.get(key);
    t.waiting.delete(key);
    w?.resolve(m);
  }
}

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
