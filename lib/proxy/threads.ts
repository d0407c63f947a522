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
import { keepSeries } from "../metrics/mod.ts";
import type { ServiceKey, Snapshot } from "../registry/model.ts";
import { BusyWatch, mainThreadBusy } from "./busy.ts";
import { type CursorSlot, CursorTable } from "./cursors.ts";
import type { ProxyEngine } from "./engine.ts";
import { type ListenerStatus, Proxy, type ProxyOptions } from "./proxy.ts";
import { RetiringServices } from "./retiring.ts";
import type { FromWorker, ToWorker, WorkerSettings } from "./thread_messages.ts";
import { WorkerThread } from "./worker_thread.ts";

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
  /** Services gone from the snapshot whose series stay until every thread has retired them. */
  readonly #retiring = new RetiringServices();
  #closed = false;
  readonly #busy: BusyWatch;
  #starting: Promise<void> | null = null;

  private constructor(options: ProxyThreadsOptions) {
    const workers = Math.max(0, options.threads - 1);
    this.#log = options.proxy.log;
    this.#settings = options.worker;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#restartMs = options.restartDelayMs ?? 1000;
    this.#busy = new BusyWatch(this.#log);
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
    this.#retiring.track(this.#last, snapshot, gen);
  }

  /**
   * Removes, on every thread, the series of the retiring services no thread has connections
   * of any more: the main proxy has retired them, and every running worker has applied a
   * snapshot without them and retired them too. A worker that is not running (not started,
   * crashed) has nothing to report. Runs on updates and on the threads' messages.
   */
  #settle(): void {
    if (this.#retiring.size === 0 || this.#closed) return;
    const done = this.#retiring.settle(this.main.retiring, this.#threads);
    if (done.length === 0) return;
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
    this.#busy.start(this.main, busy, everyMs, (share) => {
      this.#log.info("Proxy is busy, starting its worker threads", {
        threads: this.#threads.length + 1,
        mainThreadLoad: Math.round(share * 100) / 100,
      });
      this.#starting = this.#startWorkers();
    });
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
      const m = await t.request("updated", seq, {
        type: "update",
        seq,
        gen,
        snapshot,
        slots,
      }, this.#timeoutMs);
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
      const m = await t.request("stats", seq, { type: "stats", seq }, timeoutMs);
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
      this.#busy.stop();
      await this.#starting;
      await Promise.all(this.#threads.map((t) => this.#stopWorker(t)));
    }
    await this.main.close();
  }

  async #stopWorker(t: WorkerThread): Promise<void> {
    clearTimeout(t.restartTimer);
    if (t.worker === null) return;
    await t.request("closed", 0, { type: "close" }, this.#timeoutMs);
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
    const ready = t.request("ready", 0, {
      type: "init",
      thread: t.thread,
      settings: this.#settings,
      cells: this.#cursors.cells.buffer as SharedArrayBuffer,
    }, this.#timeoutMs);
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
        return t.answer("ready", 0, m);
      case "updated":
        // Handled here, in message order with `retired`, not when the update's promise runs.
        t.applied = m.gen;
        t.retiring.clear();
        for (const service of m.retiring) t.retiring.add(service);
        t.answer("updated", m.seq, m);
        return this.#settle();
      case "retired":
        for (const service of m.services) t.retiring.delete(service);
        return this.#settle();
      case "stats":
        return t.answer("stats", m.seq, m);
      case "closed":
        return t.answer("closed", 0, m);
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
}
