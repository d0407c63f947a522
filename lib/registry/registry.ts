// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The registry: the agent's store of services, endpoints, pods and nodes, with their VIPs,
 * persisted with group commit and published as immutable {@linkcode Snapshot}s.
 *
 * A change is validated and converted first (nothing happens on bad input), then applied to
 * the working state under an undo log (a full VIP pool rolls it back), then written to disk
 * together with whatever else arrived meanwhile. Only when that write is fsynced is the new
 * snapshot published, subscribers called and the `apply()` promise resolved: consumers never
 * act on state that a crash could take back.
 * @module
 */

import type { Logger } from "../log/mod.ts";
import type { MetricsRegistry } from "../metrics/mod.ts";
import type { ChangeResult, Snapshot } from "./model.ts";
import { convertChange, type ConvertedChange, type ResourceChange, resourceOf } from "./convert.ts";
import { StateDirLock } from "./lock.ts";
import type { ChangeWarning } from "./warnings.ts";
import { PoolExhaustedError, type PoolStats, VipPool } from "./vip_pool.ts";
import { denoStateFs, loadState, type StateFs } from "./store.ts";
import { type Evaluated, Tables } from "./tables.ts";
import { restoreTables } from "./restore.ts";
import { type Pending, type StateWriteError, StateWriter } from "./writer.ts";
import type { Txn } from "./txn.ts";

/** Options of {@linkcode Registry.open}. */
export interface RegistryOptions {
  /** Directory of `state.json`; created with mode 0700 when missing. */
  readonly stateDir: string;
  /** IPv4 CIDR VIPs come from (config `subnet`). */
  readonly subnet: string;
  readonly log: Logger;
  /** Registers the `edgemesh_registry_*` and `edgemesh_vip_pool_*` families when given. */
  readonly metrics?: MetricsRegistry;
  /** Clock (names of moved-aside corrupt files). @default {Date.now} */
  readonly now?: () => number;
  /** File-system seam for tests. @default the real file system */
  readonly fs?: StateFs;
  /**
   * Addresses the node holds on interfaces other than the VIP device, which new allocations
   * skip from the start, before restoring state allocates for a service without a VIP
   * ({@linkcode Registry.setReserved} later). Addresses outside the subnet are ignored.
   * @default none
   */
  readonly reserved?: Iterable<string>;
}

/** Called with every newly published snapshot. */
export type SnapshotListener = (snapshot: Snapshot) => void;

/** Counters and state for `ctl status`. */
export interface RegistryStatus {
  readonly version: number;
  readonly services: number;
  readonly nodes: number;
  /** `size = used + reserved + free` (see {@linkcode PoolStats}). */
  readonly pool: PoolStats & { readonly subnet: string };
  /** Completed state-file writes since open. */
  readonly writes: number;
  /** Set when the state file was unreadable at open and was moved aside. */
  readonly loadWarning: string | null;
  /** Set while state writes fail (every change is refused); null once one succeeds. */
  readonly writeError: StateWriteError | null;
}

type Labels = { type: string; operation: string; result: string };

/**
 * The service registry. Open it with {@linkcode Registry.open}; feed it changes with
 * {@linkcode Registry.apply}; read {@linkcode Registry.snapshot} or
 * {@linkcode Registry.subscribe} to the snapshots it publishes.
 *
 * Subscribers are called synchronously, in subscription order, right after a change (or a
 * group-committed batch of changes) is durable and before the corresponding `apply()`
 * promises resolve. A batch publishes one snapshot whose `version` grew by the number of
 * changes in it. A throwing subscriber is logged and does not affect the others.
 *
 * Warnings about an accepted change (`warnings.ts`: an ignored `lb-strategy` value, endpoint
 * ports that match no service port) are logged at `warn` at the same moment, once per change:
 * not for rejected or rolled-back changes, and not by each consumer of the snapshot.
 *
 * The working state and how changes mutate it are in `tables.ts` (restored at open by
 * `restore.ts`); the write loop, group commit and the state files in `writer.ts`.
 */
export class Registry {
  readonly #log: Logger;
  readonly #pool: VipPool;
  readonly #count: ((l: Labels) => void) | undefined;
  readonly #tables: Tables;
  readonly #writer: StateWriter;
  #published: Snapshot;
  readonly #listeners = new Set<SnapshotListener>();
  #closed = false;
  /** Set when the state file was unreadable at open (it was moved aside; see README). */
  readonly loadWarning: string | null;

  private constructor(
    opts: RegistryOptions,
    pool: VipPool,
    lock: StateDirLock,
    loaded: { warning: string | null; stateBytes: number; journalBytes: number },
  ) {
    this.#log = opts.log;
    this.#pool = pool;
    this.#tables = new Tables(pool, opts.log);
    this.#writer = new StateWriter(
      {
        stateDir: opts.stateDir,
        fs: opts.fs ?? denoStateFs,
        log: opts.log,
        now: opts.now ?? Date.now,
        lock,
        stateBytes: loaded.stateBytes,
        journalBytes: loaded.journalBytes,
      },
      this.#tables,
      {
        next: () => this.#tables.snapshot(this.#published),
        publish: (snap, batch) => this.#publish(snap, batch),
        unchanged: (p) => this.#logUnchanged(p.change, p.warnings),
      },
    );
    this.loadWarning = loaded.warning;
    this.#published = { version: 0, services: new Map(), nodes: new Map(), vips: new Map() };
    const m = opts.metrics;
    if (m) {
      const changes = m.counter(
        "edgemesh_registry_changes_total",
        "Registry changes applied, by resource type, operation and result (ok, invalid, error).",
      );
      this.#count = (l) => changes.inc(l);
      const gauge = (name: string, help: string, fn: () => number) =>
        m.gauge(name, help).collect(() => [[undefined, fn()]]);
      gauge(
        "edgemesh_registry_services",
        "Services in the registry.",
        () => this.#published.services.size,
      );
      gauge("edgemesh_registry_endpoints", "Endpoints of all services (ready or not).", () => {
        let n = 0;
        for (const e of this.#published.services.values()) n += e.endpoints.length;
        return n;
      });
      gauge("edgemesh_registry_nodes", "Nodes in the registry.", () => this.#published.nodes.size);
      gauge(
        "edgemesh_vip_pool_size",
        "Addresses the VIP subnet can hand out.",
        () => this.#pool.size,
      );
      gauge("edgemesh_vip_pool_used", "VIPs currently assigned.", () => this.#pool.used);
      gauge(
        "edgemesh_vip_pool_reserved",
        "Addresses of the VIP subnet the node holds on other interfaces and no service holds " +
          "(never handed out; neither used nor free).",
        () => this.#pool.reserved,
      );
    }
  }

  /**
   * Opens the registry: creates `stateDir`, loads `state.json` and replays `state.journal` on
   * it (services come back on their old VIPs), and writes a fresh `state.json` at once when
   * restoring had to change VIP assignments or the journal needed repair. When that write
   * fails (disk full, read-only) it opens anyway, serving what it loaded, with `writeError` set.
   * @throws {SyntaxError | RangeError} when `subnet` is not a usable IPv4 CIDR
   */
  static async open(opts: RegistryOptions): Promise<Registry> {
    const pool = new VipPool(opts.subnet);
    if (opts.reserved !== undefined) pool.setReserved(opts.reserved);
    const lock = await StateDirLock.acquire(opts.stateDir);
    try {
      return await Registry.#load(opts, pool, lock);
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  static async #load(opts: RegistryOptions, pool: VipPool, lock: StateDirLock): Promise<Registry> {
    const loaded = await loadState(opts.stateDir, opts.log, opts.now ?? Date.now, pool.subnet.cidr);
    const reg = new Registry(opts, pool, lock, loaded);
    const changed = loaded.state !== null &&
      restoreTables(reg.#tables, loaded.state, opts.log, reg.#writer.path);
    if (changed || loaded.compact) await reg.#writer.checkpointAtOpen();
    reg.#published = reg.#tables.snapshot(reg.#published);
    return reg;
  }

  /** The latest durable snapshot. */
  snapshot(): Snapshot {
    return this.#published;
  }

  /** Calls `fn` with each new snapshot; returns the function that stops it. */
  subscribe(fn: SnapshotListener): () => void {
    // Wrap so the same function may subscribe twice and unsubscribe independently.
    const entry: SnapshotListener = (s) => fn(s);
    this.#listeners.add(entry);
    return () => void this.#listeners.delete(entry);
  }

  /** Usage and health numbers for `ctl status`. */
  status(): RegistryStatus {
    const s = this.#published;
    return {
      version: s.version,
      services: s.services.size,
      nodes: s.nodes.size,
      pool: { ...this.#pool.stats(), subnet: this.#pool.subnet.cidr },
      writes: this.#writer.writes,
      loadWarning: this.loadWarning,
      writeError: this.#writer.writeError,
    };
  }

  /**
   * Replaces the addresses the node holds on interfaces other than the VIP device (the agent
   * reads them every few seconds): new VIPs skip them, so none exists twice on the node. A
   * service already on such an address keeps it (a VIP never moves under its clients; the agent
   * warns). Nothing is written: the journal records the VIPs handed out, not why others were
   * skipped, so replaying it gives the same assignments. Returns whether the set changed.
   */
  setReserved(addresses: Iterable<string>): boolean {
    return this.#pool.setReserved(addresses);
  }

  /** Set while state writes fail and every change is refused; null once one succeeds. */
  get writeError(): StateWriteError | null {
    return this.#writer.writeError;
  }

  /**
   * While state writes fail ({@linkcode writeError}): writes the whole state again and clears
   * the error once that is on disk, so a disk freed or made writable again is noticed without
   * waiting for a change (the agent calls it every few seconds, `lib/agent/state_retry.ts`).
   * Resolves once the attempt is done; never rejects.
   */
  retryWrite(): Promise<void> {
    return this.#closed ? Promise.resolve() : this.#writer.retry();
  }

  /** Completed state-file writes since open (group commit makes this less than the changes). */
  get writeCount(): number {
    return this.#writer.writes;
  }

  /**
   * Validates, converts and applies one change; resolves once it is on disk and published.
   * `insert` and `update` are both upserts; deleting something absent succeeds, and resolves
   * with `found: false` so a caller can tell it from a removal (`ctl delete`'s NotFound).
   * On any error nothing changes and the promise rejects with it.
   * @throws {TypeError | RangeError} invalid content, with every problem and its field path
   * @throws {PoolExhaustedError} when a service needs a VIP and the subnet is full
   */
  apply(change: ResourceChange): Promise<ChangeResult> {
    const labels = { type: String(change.type), operation: String(change.operation) };
    if (this.#closed) {
      return Promise.reject(
        new Error(`Cannot apply "${resourceOf(change)}": the registry is closed`),
      );
    }
    let converted: ConvertedChange;
    let evaluated: Evaluated;
    try {
      converted = convertChange(change);
      evaluated = this.#tables.evaluate(converted, change.operation);
    } catch (e) {
      this.#count?.({ ...labels, result: e instanceof PoolExhaustedError ? "error" : "invalid" });
      this.#log.debug("change rejected", { resource: resourceOf(change), error: e });
      return Promise.reject(e);
    }
    const { txn, warnings } = evaluated;
    const keys = this.#tables.alteredKeys(txn);
    if (keys === null) {
      // It leaves the stored state as it was: nothing to write, publish or warn about.
      txn.rollback();
      const result: ChangeResult = { ...evaluated.result, unchanged: true };
      const notes = warnings.filter((w) => w.level === "debug");
      if (!this.#writer.writing) {
        // Nothing is being written: the state it was compared with is the durable one.
        this.#count?.({ ...labels, result: "ok" });
        this.#logUnchanged(change, notes);
        return Promise.resolve(result);
      }
      // Compared with changes not yet durable: answered once they are (or checked again).
      return this.#enqueue(change, null, converted, notes, labels, result);
    }
    for (const [table, key] of keys) this.#writer.touch(table, key);
    txn.logVips();
    const tables = this.#tables;
    tables.version++;
    const txnVersion = tables.version;
    txn.push(() => tables.version = txnVersion - 1);
    return this.#enqueue(change, txn, null, warnings, labels, evaluated.result);
  }

  /**
   * Queues a change for the next write (`writer.ts`). A change that left the state as it was
   * (`txn` null) is resolved with the batch it falls in.
   */
  #enqueue(
    change: ResourceChange,
    txn: Txn | null,
    unchanged: ConvertedChange | null,
    warnings: readonly ChangeWarning[],
    labels: { readonly type: string; readonly operation: string },
    result: ChangeResult,
  ): Promise<ChangeResult> {
    return new Promise<ChangeResult>((resolve, reject) => {
      this.#writer.enqueue({
        change,
        txn,
        unchanged,
        warnings,
        resolve: () => {
          this.#count?.({ ...labels, result: "ok" });
          resolve(result);
        },
        reject: (e) => {
          this.#count?.({ ...labels, result: "error" });
          reject(e);
        },
      });
    });
  }

  /**
   * Publishes the snapshot of a batch now durable: logs the warnings of its changes (or that
   * one left the state as it was), then calls the subscribers.
   */
  #publish(snap: Snapshot, batch: readonly Pending[]): void {
    this.#published = snap;
    for (const p of batch) {
      if (p.txn === null) this.#logUnchanged(p.change, p.warnings);
      else for (const w of p.warnings) this.#logWarning(w);
    }
    for (const fn of this.#listeners) {
      try {
        fn(snap);
      } catch (e) {
        this.#log.error("registry subscriber failed", { error: e });
      }
    }
  }

  /** Logs a change that left the state as it was, with its `debug` notes, when acknowledged. */
  #logUnchanged(change: ResourceChange, notes: readonly ChangeWarning[]): void {
    this.#log.debug("change left the state as it was", {
      resource: resourceOf(change),
    });
    for (const w of notes) this.#logWarning(w);
  }

  /** Logs a warning or note of a change at its level (`warnings.ts`). */
  #logWarning(w: ChangeWarning): void {
    if (w.level === "info") this.#log.info(w.msg, w.fields);
    else if (w.level === "debug") this.#log.debug(w.msg, w.fields);
    else this.#log.warn(w.msg, w.fields);
  }

  /** Waits for in-flight writes, then refuses further changes. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#writer.drain();
    this.#listeners.clear();
    this.#writer.unlock();
  }
}
