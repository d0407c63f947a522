// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The reconcile loop: registry snapshots in, components updated in order with the latest
 * one. Bursts coalesce (a component never sees a stale snapshot queued behind a newer one),
 * and one failing component is logged and does not stop the others, as kube-proxy's
 * `syncProxyRules` keeps running after a failed sync. A pass with a failure does not count as
 * applied: the failure stays visible (readiness, `ctl status`) and the pass is retried with a
 * growing delay until it succeeds, as kube-proxy retries a failed sync before its next period.
 * @module
 */
import type { Logger } from "../log/mod.ts";
import type { Snapshot } from "../registry/mod.ts";
import type { StatusInfo } from "../control/mod.ts";

/**
 * A module driven by registry snapshots (netdev, proxy, DNS, tunnel). `update` receives the
 * whole snapshot and applies desired-vs-actual idempotently.
 */
export interface AgentComponent {
  /** Short name for logs (`netdev`, `proxy`, `dns`, `tunnel`). */
  readonly name: string;
  /**
   * Brings the module to the state `snapshot` describes. `pass.resync` marks the periodic
   * full pass: a component that skips work when its inputs look unchanged must then compare
   * against the real world again (addresses removed behind our back, a bind that failed).
   */
  update(snapshot: Snapshot, pass: ReconcilePass): Promise<void> | void;
  /** This module's part of `ctl status`; `listeners` are concatenated across modules. */
  status?(): Partial<StatusInfo>;
  /** Stops the module; called in reverse start order. */
  close(): Promise<void> | void;
}

/** A step to undo at shutdown, in reverse start order (components are closers too). */
export interface Closer {
  readonly name: string;
  close(): Promise<void> | void;
}

/** What kind of reconcile pass an update is. */
export interface ReconcilePass {
  /** The periodic full pass rather than a registry change. */
  readonly resync: boolean;
}

/** Options of {@linkcode Reconciler}. */
export interface ReconcilerOptions {
  /**
   * Period of the full resync pass, ms (kube-proxy's `syncPeriod` idea: repair drift and retry
   * what failed even when nothing changes); 0 disables it. @default 0
   */
  readonly resyncMs?: number;
  /**
   * First delay before a pass with a failed component is retried, ms; it doubles with each
   * failed retry up to `resyncMs` (or 30 s when resync is off). @default 1000
   */
  readonly retryMs?: number;
  /**
   * The agent's stop signal: once it aborts, no pass starts, the pass in progress stops before
   * its next component (a component that rejects meanwhile, e.g. netdev stopping between its
   * `ip` batches, is not a failure), and the reconciler stops as by {@linkcode Reconciler.stop}.
   */
  readonly signal?: AbortSignal;
}

/** A component whose last update threw, for readiness and `ctl status`. */
export interface ReconcileFailure {
  /** {@linkcode AgentComponent.name}. */
  readonly component: string;
  /** Snapshot version of the failed pass. */
  readonly version: number;
  /** The error's message. */
  readonly error: string;
}

/** Longest delay between retries of a failed pass when no resync period is set, ms. */
const MAX_RETRY_MS = 30_000;

/**
 * Feeds snapshots to components, one reconcile at a time, newest snapshot wins; optionally
 * re-runs the newest snapshot every `resyncMs` as a full pass.
 */
export class Reconciler {
  readonly #components: readonly AgentComponent[];
  readonly #log: Logger;
  readonly #loop: Promise<void>;
  #latest: Snapshot | null = null;
  #wake: (() => void) | null = null;
  #stopped = false;
  #applied = -1;
  /** Version of the last finished pass, failed or not: what {@linkcode settled} waits for. */
  #done = -1;
  #failures: readonly ReconcileFailure[] = [];
  #waiters: { version: number; resolve: () => void }[] = [];
  #lastPushed: Snapshot | null = null;
  #resyncDue = false;
  readonly #timer: ReturnType<typeof setInterval> | undefined;
  readonly #retryMs: number;
  readonly #maxRetryMs: number;
  #retryDelay = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #signal: AbortSignal | undefined;

  constructor(
    components: readonly AgentComponent[],
    log: Logger,
    options: ReconcilerOptions = {},
  ) {
    this.#components = components;
    this.#log = log;
    const every = options.resyncMs ?? 0;
    if (every > 0) this.#timer = setInterval(() => this.resync(), every);
    this.#retryMs = options.retryMs ?? 1000;
    this.#maxRetryMs = Math.max(this.#retryMs, every > 0 ? every : MAX_RETRY_MS);
    this.#signal = options.signal;
    if (this.#signal?.aborted) this.#halt();
    else this.#signal?.addEventListener("abort", () => this.#halt(), { once: true });
    this.#loop = this.#run();
  }

  /** Schedules a full pass with the newest snapshot (also run by the resync timer). */
  resync(): void {
    if (this.#lastPushed === null || this.#stopped) return;
    this.#resyncDue = true;
    this.push(this.#lastPushed);
  }

  /**
   * Version of the newest snapshot every component applied without an error; -1 before the
   * first such pass.
   */
  get appliedVersion(): number {
    return this.#applied;
  }

  /** The components whose update failed in the last pass (empty when it succeeded). */
  get failures(): readonly ReconcileFailure[] {
    return this.#failures;
  }

  /**
   * Resolves once a pass with `version` or a newer snapshot has finished, whether or not every
   * component succeeded (see {@linkcode failures}).
   */
  settled(version: number): Promise<void> {
    if (this.#done >= version || this.#stopped) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ version, resolve }));
  }

  /** Schedules a reconcile with `snapshot` (replacing any not yet started). */
  push(snapshot: Snapshot): void {
    this.#latest = snapshot;
    this.#lastPushed = snapshot;
    this.#wake?.();
  }

  /**
   * Finishes the reconcile in progress (if any) and stops; once the `signal` option has
   * aborted, that pass stops before its next component instead.
   */
  async stop(): Promise<void> {
    this.#halt();
    await this.#loop;
  }

  /** No pass after the one in progress, no resync, no retry. */
  #halt(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    clearTimeout(this.#retryTimer);
    this.#wake?.();
  }

  #release(): void {
    const waiting = this.#waiters;
    this.#waiters = [];
    for (const w of waiting) {
      if (this.#stopped || w.version <= this.#done) w.resolve();
      else this.#waiters.push(w);
    }
  }

  async #run(): Promise<void> {
    while (true) {
      if (this.#latest === null && !this.#stopped) {
        await new Promise<void>((r) => (this.#wake = r));
        this.#wake = null;
      }
      if (this.#stopped) {
        this.#release();
        return;
      }
      const snapshot = this.#latest;
      this.#latest = null;
      if (snapshot === null) continue;
      const pass: ReconcilePass = { resync: this.#resyncDue };
      this.#resyncDue = false;
      const failures: ReconcileFailure[] = [];
      let stoppedAt: string | null = null;
      for (const c of this.#components) {
        if (this.#signal?.aborted) {
          stoppedAt = c.name;
          break;
        }
        try {
          await c.update(snapshot, pass);
        } catch (err) {
          if (this.#signal?.aborted) {
            // Stopped (or failed) because the agent is stopping: not a failure to retry.
            stoppedAt = c.name;
            this.#log.debug("reconcile step stopped", { component: c.name, error: err });
            break;
          }
          // One line: `ip`'s stderr can span several, which would break `ctl status`.
          const error = (err instanceof Error ? err.message : String(err)).trim()
            .replace(/\s*\n\s*/g, "; ");
          failures.push({ component: c.name, version: snapshot.version, error });
          this.#log.error("Reconcile failed", {
            failed: c.name,
            version: snapshot.version,
            error: err,
          });
        }
      }
      if (stoppedAt !== null) {
        this.#log.info("reconcile pass stopped: the agent is stopping", {
          version: snapshot.version,
          at: stoppedAt,
        });
        this.#release(); // stopped: every waiter resolves
        return;
      }
      this.#done = snapshot.version;
      this.#failures = failures;
      if (failures.length === 0) {
        this.#applied = snapshot.version;
        this.#retryDelay = 0;
        // One line per reconcile pass (bursts coalesce), so operators and tests can see when a
        // change acknowledged on the control socket is live on the device, proxy and DNS.
        this.#log.debug("reconciled", { version: snapshot.version, resync: pass.resync });
      } else {
        this.#scheduleRetry();
      }
      this.#release();
    }
  }

  /** A full pass after a failed one: 1 s, 2 s, 4 s, … up to the resync period. */
  #scheduleRetry(): void {
    if (this.#stopped || this.#retryTimer !== undefined) return;
    this.#retryDelay = this.#retryDelay === 0
      ? this.#retryMs
      : Math.min(this.#retryDelay * 2, this.#maxRetryMs);
    this.#log.debug("reconcile retry scheduled", { inSeconds: this.#retryDelay / 1000 });
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.resync();
    }, this.#retryDelay);
  }
}
