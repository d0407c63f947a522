// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The reconcile loop: registry snapshots in, components updated in order with the latest
 * one. Bursts coalesce (a component never sees a stale snapshot queued behind a newer one),
 * and one failing component is logged and does not stop the others, as kube-proxy's
 * `syncProxyRules` keeps running after a failed sync.
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
}

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
  #waiters: { version: number; resolve: () => void }[] = [];
  #lastPushed: Snapshot | null = null;
  #resyncDue = false;
  readonly #timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    components: readonly AgentComponent[],
    log: Logger,
    options: ReconcilerOptions = {},
  ) {
    this.#components = components;
    this.#log = log;
    const every = options.resyncMs ?? 0;
    if (every > 0) this.#timer = setInterval(() => this.resync(), every);
    this.#loop = this.#run();
  }

  /** Schedules a full pass with the newest snapshot (also run by the resync timer). */
  resync(): void {
    if (this.#lastPushed === null || this.#stopped) return;
    this.#resyncDue = true;
    this.push(this.#lastPushed);
  }

  /** Version of the last snapshot every component was updated with; -1 before the first. */
  get appliedVersion(): number {
    return this.#applied;
  }

  /** Resolves once every component has been updated with `version` or a newer snapshot. */
  settled(version: number): Promise<void> {
    if (this.#applied >= version || this.#stopped) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ version, resolve }));
  }

  /** Schedules a reconcile with `snapshot` (replacing any not yet started). */
  push(snapshot: Snapshot): void {
    this.#latest = snapshot;
    this.#lastPushed = snapshot;
    this.#wake?.();
  }

  /** Finishes the reconcile in progress (if any) and stops. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#wake?.();
    await this.#loop;
  }

  #release(): void {
    const waiting = this.#waiters;
    this.#waiters = [];
    for (const w of waiting) {
      if (this.#stopped || w.version <= this.#applied) w.resolve();
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
      for (const c of this.#components) {
        try {
          await c.update(snapshot, pass);
        } catch (err) {
          this.#log.error("reconcile failed", {
            component: c.name,
            version: snapshot.version,
            error: err,
          });
        }
      }
      this.#applied = snapshot.version;
      // One line per reconcile pass (bursts coalesce), so operators and tests can see when a
      // change acknowledged on the control socket is live on the device, proxy and DNS.
      this.#log.debug("reconciled", { version: snapshot.version, resync: pass.resync });
      this.#release();
    }
  }
}
