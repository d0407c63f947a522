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

import { join } from "node:path";
import type { Logger } from "../log/mod.ts";
import type { MetricsRegistry } from "../metrics/mod.ts";
import {
  type ChangeResult,
  type Endpoint,
  type EndpointSource,
  type NodeInfo,
  type Service,
  type ServiceEntry,
  type ServiceKey,
  serviceKey,
  type Snapshot,
} from "./model.ts";
import {
  convertChange,
  type ConvertedChange,
  podEndpoints,
  type PodRecord,
  type ResourceChange,
  resourceOf,
  selectorMatches,
  SERVICE_PROXY_NAME_LABEL,
  type ServiceRecord,
  type SliceRecord,
} from "./convert.ts";
import { StateDirLock } from "./lock.ts";
import { specialIpProblem } from "../netaddr/mod.ts";
import { sameStored } from "./same.ts";
import { type ChangeWarning, otherProxyNote, unmatchedPortsWarning } from "./warnings.ts";
import { PoolExhaustedError, type PoolStats, VipPool } from "./vip_pool.ts";
import {
  denoStateFs,
  encodeJournalEntry,
  encodeState,
  type EndpointsRecord,
  JOURNAL_FILE,
  type JournalOp,
  type JournalTable,
  loadState,
  type PersistedState,
  type PodListRecord,
  STATE_FILE,
  type StateFs,
} from "./store.ts";

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
}

/** Called with every newly published snapshot. */
export type SnapshotListener = (snapshot: Snapshot) => void;

/** Counters and state for `ctl status`. */
export interface RegistryStatus {
  readonly version: number;
  readonly services: number;
  readonly nodes: number;
  readonly pool: PoolStats & { readonly subnet: string };
  /** Completed state-file writes since open. */
  readonly writes: number;
  /** Set when the state file was unreadable at open and was moved aside. */
  readonly loadWarning: string | null;
  /** Set while state writes fail (every change is refused); null once one succeeds. */
  readonly writeError: StateWriteError | null;
}

/**
 * The state files cannot be written (disk full, state directory read-only): since when, and the
 * last error. Every change is refused until a write succeeds, so `ctl status` shows it.
 */
export interface StateWriteError {
  /** ISO 8601 time of the first failed write of this run of failures. */
  readonly since: string;
  /** The last write's error message. */
  readonly reason: string;
  /** Changes refused since then. */
  readonly refused: number;
}

/**
 * Whether a service gets a VIP: not headless/ExternalName, at least one TCP port, and not
 * handled by another proxy (`proxyName`: nothing would listen on a VIP of ours).
 */
export function needsVip(service: Service): boolean {
  return service.kind.type === "ClusterIP" && service.proxyName === undefined &&
    service.ports.some((p) => p.protocol === "TCP");
}

/**
 * The journal is folded into a new `state.json` once it is larger than the checkpoint (so the
 * bytes written stay within twice the journal's) and at least this large.
 */
const COMPACT_MIN_BYTES = 256 * 1024;

/** Marks a key that was absent before a transaction changed it. */
const ABSENT: unique symbol = Symbol("absent");

/**
 * An undo log: every mutation of the working state records how to take it back, and the value
 * each touched key of a map had before the change first touched it (so the registry can tell a
 * change that altered nothing, {@linkcode Registry.apply}).
 */
class Txn {
  readonly #undo: (() => void)[] = [];
  readonly #before = new Map<Map<unknown, unknown>, Map<unknown, unknown>>();
  readonly #vips = new Set<ServiceKey>();
  readonly #vipLogs: (() => void)[] = [];
  set<K, V>(map: Map<K, V>, key: K, value: V): void {
    const had = map.has(key);
    const old = map.get(key);
    this.#note(map as Map<unknown, unknown>, key, had ? old : ABSENT);
    map.set(key, value);
    this.#undo.push(had ? () => map.set(key, old as V) : () => map.delete(key));
  }
  delete<K, V>(map: Map<K, V>, key: K): void {
    if (!map.has(key)) return;
    const old = map.get(key) as V;
    this.#note(map as Map<unknown, unknown>, key, old);
    map.delete(key);
    this.#undo.push(() => map.set(key, old));
  }
  /** Records how to undo a mutation outside the maps (the version). */
  push(undo: () => void): void {
    this.#undo.push(undo);
  }
  /**
   * Records how to undo a change of `service`'s VIP (such a change always alters the state), and
   * its log line, written by {@linkcode logVips} once the change is kept.
   */
  alter(service: ServiceKey, undo: () => void, log: () => void): void {
    this.#vips.add(service);
    this.#undo.push(undo);
    this.#vipLogs.push(log);
  }
  /** Writes the log lines of the VIP changes ({@linkcode alter}). */
  logVips(): void {
    for (const log of this.#vipLogs) log();
  }
  /** The services whose VIP was allocated or released ({@linkcode alter}). */
  get vips(): ReadonlySet<ServiceKey> {
    return this.#vips;
  }
  /** Each touched map with its touched keys and their values before ({@linkcode ABSENT}). */
  touched(): ReadonlyMap<Map<unknown, unknown>, ReadonlyMap<unknown, unknown>> {
    return this.#before;
  }
  rollback(): void {
    for (let i = this.#undo.length - 1; i >= 0; i--) this.#undo[i]!();
    this.#undo.length = 0;
  }
  #note(map: Map<unknown, unknown>, key: unknown, old: unknown): void {
    let keys = this.#before.get(map);
    if (!keys) this.#before.set(map, keys = new Map());
    if (!keys.has(key)) keys.set(key, old);
  }
}

/** A change converted and applied to the working state, not yet committed or rolled back. */
interface Evaluated {
  readonly txn: Txn;
  readonly warnings: readonly ChangeWarning[];
  readonly result: ChangeResult;
}

interface Pending {
  readonly change: ResourceChange;
  /** The undo log of a change that altered the state; null for one that left it as it was. */
  readonly txn: Txn | null;
  /** For a change that left the state as it was: itself, checked again if a write before it fails. */
  readonly unchanged: ConvertedChange | null;
  /** Logged once the change is durable (warnings.ts). */
  readonly warnings: readonly ChangeWarning[];
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
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
 */
export class Registry {
  readonly #log: Logger;
  readonly #fs: StateFs;
  readonly #path: string;
  readonly #journalPath: string;
  readonly #pool: VipPool;
  readonly #count: ((l: Labels) => void) | undefined;

  // Sources (what messages said), keyed by service key / object key.
  readonly #services = new Map<ServiceKey, ServiceRecord>();
  readonly #endpoints = new Map<ServiceKey, EndpointsRecord>();
  readonly #slices = new Map<string, SliceRecord>();
  readonly #slicesBySvc = new Map<ServiceKey, ReadonlySet<string>>();
  readonly #podlists = new Map<ServiceKey, PodListRecord>();
  readonly #pods = new Map<string, PodRecord>();
  readonly #nodes = new Map<string, NodeInfo>();
  /** Pool exhaustion found while restoring state (only then can a service lack its VIP). */
  readonly #vipErrors = new Map<ServiceKey, string>();

  // Derived, kept up to date per change (only affected services are recomputed).
  readonly #entries = new Map<ServiceKey, ServiceEntry>();
  readonly #vipIndex = new Map<string, ServiceKey>();

  #version = 0;
  #published: Snapshot;
  #servicesDirty = true;
  #nodesDirty = true;
  readonly #listeners = new Set<SnapshotListener>();
  #pending: Pending[] = [];
  #writer: Promise<void> = Promise.resolve();
  #writing = false;
  #writes = 0;
  readonly #jsonCache = new WeakMap<object, string>();
  /** Persisted collections by the map holding them; keys touched since the last write. */
  readonly #tables: ReadonlyMap<Map<unknown, unknown>, JournalTable>;
  readonly #dirty = new Map<JournalTable, Set<string>>();
  /** Size of the last `state.json` written (or loaded), and of the journal after it. */
  #stateBytes = 0;
  #journalBytes = 0;
  /** The next write must be a full `state.json` (none yet, or an append may have failed). */
  #needFull = true;
  #closed = false;
  /** This registry's hold on `stateDir` (lock.ts). */
  #lock: StateDirLock | null = null;
  readonly #stateDir: string;
  readonly #now: () => number;
  /** Set while writes fail (see {@linkcode StateWriteError}). */
  #writeError: StateWriteError | null = null;
  /** Set when the state file was unreadable at open (it was moved aside; see README). */
  readonly loadWarning: string | null;

  private constructor(opts: RegistryOptions, pool: VipPool, loadWarning: string | null) {
    this.#log = opts.log;
    this.#fs = opts.fs ?? denoStateFs;
    this.#stateDir = opts.stateDir;
    this.#now = opts.now ?? Date.now;
    this.#path = join(opts.stateDir, STATE_FILE);
    this.#journalPath = join(opts.stateDir, JOURNAL_FILE);
    this.#pool = pool;
    this.#tables = new Map<Map<unknown, unknown>, JournalTable>([
      [this.#services, "services"],
      [this.#endpoints, "endpoints"],
      [this.#slices, "slices"],
      [this.#podlists, "podlists"],
      [this.#pods, "pods"],
      [this.#nodes, "nodes"],
    ] as [Map<unknown, unknown>, JournalTable][]);
    this.loadWarning = loadWarning;
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
    }
  }

  /**
   * Opens the registry: creates `stateDir`, loads `state.json` and replays `state.journal` on
   * it (services come back on their old VIPs), and writes a fresh `state.json` at once when
   * restoring had to change VIP assignments or the journal needed repair.
   * @throws {SyntaxError | RangeError} when `subnet` is not a usable IPv4 CIDR
   */
  static async open(opts: RegistryOptions): Promise<Registry> {
    const pool = new VipPool(opts.subnet);
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
    const reg = new Registry(opts, pool, loaded.warning);
    reg.#lock = lock;
    reg.#stateBytes = loaded.stateBytes;
    reg.#journalBytes = loaded.journalBytes;
    reg.#needFull = loaded.stateBytes === 0;
    const changed = loaded.state !== null && reg.#restore(loaded.state);
    reg.#dirty.clear();
    if (changed || loaded.compact) await reg.#writeFull();
    reg.#published = reg.#buildSnapshot();
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
      writes: this.#writes,
      loadWarning: this.loadWarning,
      writeError: this.#writeError,
    };
  }

  /** Set while state writes fail and every change is refused; null once one succeeds. */
  get writeError(): StateWriteError | null {
    return this.#writeError;
  }

  /** Completed state-file writes since open (group commit makes this less than the changes). */
  get writeCount(): number {
    return this.#writes;
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
    const dirty = [this.#servicesDirty, this.#nodesDirty] as const;
    let converted: ConvertedChange;
    let evaluated: Evaluated;
    try {
      converted = convertChange(change);
      evaluated = this.#evaluate(converted, change.operation);
    } catch (e) {
      this.#count?.({ ...labels, result: e instanceof PoolExhaustedError ? "error" : "invalid" });
      this.#log.debug("change rejected", { resource: resourceOf(change), error: e });
      return Promise.reject(e);
    }
    const { txn, warnings } = evaluated;
    const keys = this.#alteredKeys(txn);
    if (keys === null) {
      // It leaves the stored state as it was: nothing to write, publish or warn about.
      txn.rollback();
      [this.#servicesDirty, this.#nodesDirty] = dirty;
      const result: ChangeResult = { ...evaluated.result, unchanged: true };
      const notes = warnings.filter((w) => w.level === "debug");
      if (!this.#writing) {
        // Nothing is being written: the state it was compared with is the durable one.
        this.#count?.({ ...labels, result: "ok" });
        this.#logUnchanged(change, notes);
        return Promise.resolve(result);
      }
      // Compared with changes not yet durable: answered once they are (or checked again).
      return this.#enqueue(change, null, converted, notes, labels, result);
    }
    for (const [map, key] of keys) this.#touch(map, key);
    txn.logVips();
    this.#version++;
    const txnVersion = this.#version;
    txn.push(() => this.#version = txnVersion - 1);
    return this.#enqueue(change, txn, null, warnings, labels, evaluated.result);
  }

  /**
   * Queues a change for the next write; starts the write loop when none runs. A change that
   * left the state as it was (`txn` null) is resolved with the batch it falls in.
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
      this.#pending.push({
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
      if (!this.#writing) {
        this.#writing = true;
        this.#writer = this.#writeLoop();
      }
    });
  }

  /**
   * Applies a converted change to the working state under a new undo log, with what it did
   * (a delete's `found`) and its warnings; on error the log is rolled back and the error thrown.
   */
  #evaluate(c: ConvertedChange, operation: ResourceChange["operation"]): Evaluated {
    const txn = new Txn();
    try {
      // Looked up before the mutation, in the working state: a delete pipelined behind an
      // insert of the same object finds it.
      const result: ChangeResult = operation === "delete"
        ? { operation: "delete", found: this.#has(c) }
        : { operation };
      return { txn, result, warnings: [...c.warnings, ...this.#mutate(c, txn)] };
    } catch (e) {
      txn.rollback();
      throw e;
    }
  }

  /**
   * The persisted keys whose stored record a change altered (the journal writes them), each
   * with its map; null when it altered nothing that is stored or shown — no record (compared as
   * stored, `same.ts`), no VIP, no pool-full error. Derived maps (entries, the VIP index, the
   * slice index) are not looked at: they follow from the others. A service whose VIP changed is
   * listed even when its record did not (its journal op carries the VIP).
   */
  #alteredKeys(txn: Txn): [Map<unknown, unknown>, unknown][] | null {
    const keys: [Map<unknown, unknown>, unknown][] = [];
    let altered = txn.vips.size > 0;
    for (const [map, before] of txn.touched()) {
      const persisted = this.#tables.has(map);
      if (!persisted && map !== (this.#vipErrors as Map<unknown, unknown>)) continue;
      for (const [key, old] of before) {
        const now = map.has(key) ? map.get(key) : ABSENT;
        const same = old === ABSENT || now === ABSENT ? old === now : sameStored(old, now);
        if (same) continue;
        altered = true;
        if (persisted) keys.push([map, key]);
      }
    }
    const services = this.#services as Map<unknown, unknown>;
    const listed = new Set(keys.flatMap(([map, key]) => map === services ? [key] : []));
    for (const key of txn.vips) if (!listed.has(key)) keys.push([services, key]);
    return altered ? keys : null;
  }

  /**
   * Whether a converted change leaves the working state as it is (it is not applied: its
   * mutation is rolled back at once). A change the state now refuses (a full pool) does not.
   */
  #leavesAsIs(c: ConvertedChange): boolean {
    const dirty = [this.#servicesDirty, this.#nodesDirty] as const;
    let evaluated: Evaluated;
    try {
      evaluated = this.#evaluate(c, "update");
    } catch {
      return false;
    }
    const keys = this.#alteredKeys(evaluated.txn);
    evaluated.txn.rollback();
    [this.#servicesDirty, this.#nodesDirty] = dirty;
    return keys === null;
  }

  /** Logs a change that left the state as it was, with its `debug` notes, when acknowledged. */
  #logUnchanged(change: ResourceChange, notes: readonly ChangeWarning[]): void {
    this.#log.debug("change left the state as it was", {
      resource: resourceOf(change),
    });
    for (const w of notes) this.#logWarning(w);
  }

  /** Waits for in-flight writes, then refuses further changes. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#writing) await this.#writer;
    this.#listeners.clear();
    this.#lock?.release();
  }

  // -------------------------------------------------------------------------------------------
  // Group commit

  async #writeLoop(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending;
      this.#pending = [];
      if (batch.every((p) => p.txn === null)) {
        // Changes that left the state as it was, queued behind writes that are now durable.
        for (const p of batch) this.#logUnchanged(p.change, p.warnings);
        for (const p of batch) p.resolve();
        continue;
      }
      const snap = this.#buildSnapshot();
      try {
        await this.#writeBatch();
      } catch (e) {
        // Take back everything not yet durable, newest first (later changes build on the batch).
        const all = [...batch, ...this.#pending];
        this.#pending = [];
        for (let i = all.length - 1; i >= 0; i--) all[i]!.txn?.rollback();
        this.#servicesDirty = this.#nodesDirty = true;
        // A failed append may have left part of a line: the next write replaces both files.
        this.#needFull = true;
        this.#dirty.clear();
        // A change found to alter nothing was compared with changes now taken back: it stays
        // acknowledged only if it alters nothing in the durable state either.
        const refused = new Set(
          all.filter((p) => p.txn !== null || !this.#leavesAsIs(p.unchanged!)),
        );
        const reason = e instanceof Error ? e.message : String(e);
        this.#log.error("cannot write state file; changes rolled back", {
          path: this.#path,
          reason,
          changes: refused.size,
        });
        this.#writeError = {
          since: this.#writeError?.since ?? new Date(this.#now()).toISOString(),
          reason,
          refused: (this.#writeError?.refused ?? 0) + refused.size,
        };
        for (const p of all) {
          if (!refused.has(p)) {
            this.#logUnchanged(p.change, p.warnings);
            p.resolve();
            continue;
          }
          p.reject(
            new Error(
              `Cannot apply "${resourceOf(p.change)}": writing "${this.#path}" failed: ${reason}`,
              { cause: e },
            ),
          );
        }
        continue;
      }
      this.#published = snap;
      if (this.#writeError) {
        this.#log.info("state file written again; changes are accepted", {
          path: this.#path,
          refused: this.#writeError.refused,
        });
        this.#writeError = null;
      }
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
      for (const p of batch) p.resolve();
    }
    // Synchronous with the last resolve(): continuations of those promises run after this
    // line, so an apply() they make starts a new loop rather than being stranded.
    this.#writing = false;
  }

  /** Logs a warning or note of a change at its level (`warnings.ts`). */
  #logWarning(w: ChangeWarning): void {
    if (w.level === "info") this.#log.info(w.msg, w.fields);
    else if (w.level === "debug") this.#log.debug(w.msg, w.fields);
    else this.#log.warn(w.msg, w.fields);
  }

  /** Records a touched key of a persisted collection (the {@linkcode Txn} hook). */
  readonly #touch = (map: Map<unknown, unknown>, key: unknown): void => {
    const table = this.#tables.get(map);
    if (table === undefined) return;
    let keys = this.#dirty.get(table);
    if (!keys) this.#dirty.set(table, keys = new Set());
    keys.add(key as string);
  };

  /**
   * Makes the state on disk match the working state: one journal line with the records the
   * batch touched, or a full `state.json` when there is none yet, after a failed write, when
   * the journal has outgrown the checkpoint, or when the file system has no append.
   */
  async #writeBatch(): Promise<void> {
    try {
      await this.#writeBatchTo();
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound) || !await this.#recreateStateDir()) throw e;
      this.#dirty.clear();
      await this.#writeFull();
    }
  }

  /**
   * After a write failed with "not found": when `stateDir` itself is gone (removed by hand or
   * by a cleanup job while the agent runs), creates it again (0700), takes its lock again and
   * returns true, so the whole state, which the registry still holds, is written at once.
   * Without this every change was refused until a restart, and the restart then began from an
   * empty directory, every VIP assignment lost.
   * @throws {StateDirBusyError} when another agent has locked the new directory meanwhile
   */
  async #recreateStateDir(): Promise<boolean> {
    try {
      await Deno.stat(this.#stateDir);
      return false;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) return false;
    }
    const lock = await StateDirLock.acquire(this.#stateDir);
    this.#lock?.release();
    this.#lock = lock;
    this.#journalBytes = 0;
    this.#needFull = true;
    this.#log.warn("state directory was removed while the agent ran; created it again", {
      path: this.#stateDir,
    });
    return true;
  }

  async #writeBatchTo(): Promise<void> {
    const fs = this.#fs;
    if (!this.#needFull && fs.append && fs.truncate) {
      const line = encodeJournalEntry({
        version: this.#version,
        cursor: this.#pool.cursor,
        ops: this.#journalOps(),
      }, this.#jsonCache);
      // Byte length equals string length for the ASCII JSON we write; close enough otherwise.
      if (this.#journalBytes + line.length <= Math.max(COMPACT_MIN_BYTES, this.#stateBytes)) {
        await fs.append(this.#journalPath, line);
        this.#journalBytes += line.length;
        this.#writes++;
        return;
      }
    }
    this.#dirty.clear();
    await this.#writeFull();
  }

  /** The ops of one journal line (clears the touched keys). */
  #journalOps(): JournalOp[] {
    const ops: JournalOp[] = [];
    const maps: Record<Exclude<JournalTable, "vips">, Map<string, object>> = {
      services: this.#services,
      endpoints: this.#endpoints,
      slices: this.#slices,
      podlists: this.#podlists,
      pods: this.#pods,
      nodes: this.#nodes,
    };
    for (const [table, keys] of this.#dirty) {
      if (table === "vips") continue;
      for (const key of keys) {
        ops.push([table, key, maps[table].get(key) ?? null]);
        // A service's VIP is assigned or released only together with its record.
        if (table === "services") ops.push(["vips", key, this.#pool.get(key) ?? null]);
      }
    }
    this.#dirty.clear();
    return ops;
  }

  /** Writes the whole state to `state.json` and empties the journal it now contains. */
  async #writeFull(): Promise<void> {
    const data = encodeState(this.#persisted(), this.#jsonCache);
    await this.#fs.writeAtomic(this.#path, data);
    this.#writes++;
    this.#stateBytes = data.length;
    this.#needFull = false;
    if (!this.#fs.truncate) return;
    try {
      await this.#fs.truncate(this.#journalPath);
      this.#journalBytes = 0;
    } catch (e) {
      // Entries left behind are at or below the checkpoint's version and are skipped on load;
      // but a torn line may be among them, so nothing is appended until a truncate works.
      this.#needFull = true;
      this.#log.warn("cannot empty the state journal; its entries are superseded", {
        path: this.#journalPath,
        error: e,
      });
    }
  }

  #buildSnapshot(): Snapshot {
    const prev = this.#published;
    const services = this.#servicesDirty ? new Map(this.#entries) : prev.services;
    const vips = this.#servicesDirty ? new Map(this.#vipIndex) : prev.vips;
    const nodes = this.#nodesDirty ? new Map(this.#nodes) : prev.nodes;
    this.#servicesDirty = this.#nodesDirty = false;
    return Object.freeze({ version: this.#version, services, nodes, vips });
  }

  #persisted(): PersistedState {
    return {
      version: this.#version,
      subnet: this.#pool.subnet.cidr,
      cursor: this.#pool.cursor,
      vips: this.#pool.assignments(),
      services: [...this.#services.values()],
      endpoints: [...this.#endpoints.values()],
      slices: [...this.#slices.values()],
      podlists: [...this.#podlists.values()],
      pods: [...this.#pods.values()],
      nodes: [...this.#nodes.values()],
    };
  }

  // -------------------------------------------------------------------------------------------
  // Mutation

  /**
   * Whether the object a change names is in the working state: what a delete of it removes.
   * Each kind is looked up where its source record lives (a Service's record, not its derived
   * entry; an EndpointSlice by its own name, not its service's), so `found` means exactly
   * "a record was removed". A servicelist names no single object (and cannot be deleted).
   */
  #has(c: ConvertedChange): boolean {
    switch (c.type) {
      case "service":
        return this.#services.has(serviceKey(c.namespace, c.name));
      case "servicelist":
        return false;
      case "endpoints":
        return this.#endpoints.has(serviceKey(c.namespace, c.name));
      case "endpointslice":
        return this.#slices.has(`${c.namespace}/${c.name}`);
      case "pod":
        return this.#pods.has(`${c.namespace}/${c.name}`);
      case "podlist":
        return this.#podlists.has(serviceKey(c.namespace, c.name));
      case "node":
        return this.#nodes.has(c.name);
    }
  }

  /**
   * Applies a converted change to the working state; returns the notes about the Services it
   * carries that another proxy handles, and the warnings about the entries it rebuilt (endpoint
   * ports matching no service port). Only changes of a Service or of an endpoints object can
   * produce the latter: pods never decide a service's endpoints while it has Endpoints or
   * slices, so a pod change does not repeat the warning.
   */
  #mutate(c: ConvertedChange, txn: Txn): ChangeWarning[] {
    const affected = new Set<ServiceKey>();
    switch (c.type) {
      case "service": {
        const key = serviceKey(c.namespace, c.name);
        if (c.record) this.#upsertService(key, c.record, txn);
        else this.#removeService(key, txn);
        affected.add(key);
        break;
      }
      case "servicelist": {
        const keep = new Set<ServiceKey>();
        for (const r of c.records) keep.add(serviceKey(r.service.namespace, r.service.name));
        // Release first, so a full pool can take the new services of the same list.
        for (const key of [...this.#services.keys()]) {
          if (!keep.has(key)) {
            this.#removeService(key, txn);
            affected.add(key);
          }
        }
        for (const r of c.records) {
          const key = serviceKey(r.service.namespace, r.service.name);
          this.#upsertService(key, r, txn);
          affected.add(key);
        }
        break;
      }
      case "endpoints": {
        const key = serviceKey(c.namespace, c.name);
        if (c.endpoints) {
          txn.set(this.#endpoints, key, {
            namespace: c.namespace,
            name: c.name,
            endpoints: c.endpoints,
          });
        } else txn.delete(this.#endpoints, key);
        affected.add(key);
        break;
      }
      case "endpointslice": {
        const sk = `${c.namespace}/${c.name}`;
        const old = this.#slices.get(sk);
        if (old) {
          const svc = serviceKey(old.namespace, old.service);
          // Replaced in place when updated (a rolled-back no-op keeps the order of the map).
          if (!c.slice) txn.delete(this.#slices, sk);
          this.#indexSlice(svc, sk, false, txn);
          affected.add(svc);
        }
        if (c.slice) {
          const svc = serviceKey(c.slice.namespace, c.slice.service);
          txn.set(this.#slices, sk, c.slice);
          this.#indexSlice(svc, sk, true, txn);
          affected.add(svc);
        }
        break;
      }
      case "pod": {
        const pk = `${c.namespace}/${c.name}`;
        const old = this.#pods.get(pk);
        if (c.pod) txn.set(this.#pods, pk, c.pod);
        else txn.delete(this.#pods, pk);
        for (const [key, rec] of this.#services) {
          if (rec.service.namespace !== c.namespace || !rec.selector) continue;
          if (
            (old && selectorMatches(rec.selector, old.labels)) ||
            (c.pod && selectorMatches(rec.selector, c.pod.labels))
          ) affected.add(key);
        }
        break;
      }
      case "podlist": {
        const key = serviceKey(c.namespace, c.name);
        if (c.pods) {
          txn.set(this.#podlists, key, { namespace: c.namespace, name: c.name, pods: c.pods });
        } else txn.delete(this.#podlists, key);
        affected.add(key);
        break;
      }
      case "node": {
        if (c.node) txn.set(this.#nodes, c.name, c.node);
        else txn.delete(this.#nodes, c.name);
        this.#nodesDirty = true;
        break;
      }
    }
    if (this.#vipErrors.size > 0) this.#assignWaiting(affected, txn);
    for (const key of affected) this.#recompute(key, txn);
    if (affected.size > 0) this.#servicesDirty = true;
    const warnings: ChangeWarning[] = [];
    // Services another proxy handles: a line per Service the change carries.
    const records = c.type === "service"
      ? (c.record ? [c.record] : [])
      : c.type === "servicelist"
      ? c.records
      : [];
    for (const r of records) {
      const note = otherProxyNote(r.service, SERVICE_PROXY_NAME_LABEL);
      if (note) warnings.push(note);
    }
    if (c.type === "pod" || c.type === "podlist") return warnings;
    for (const key of affected) {
      const entry = this.#entries.get(key);
      const w = entry && unmatchedPortsWarning(key, entry);
      if (w) warnings.push(w);
    }
    return warnings;
  }

  #indexSlice(svc: ServiceKey, sliceKey: string, add: boolean, txn: Txn): void {
    const next = new Set(this.#slicesBySvc.get(svc));
    if (add) next.add(sliceKey);
    else next.delete(sliceKey);
    if (next.size === 0) txn.delete(this.#slicesBySvc, svc);
    else txn.set(this.#slicesBySvc, svc, next);
  }

  #upsertService(key: ServiceKey, rec: ServiceRecord, txn: Txn): void {
    txn.set(this.#services, key, rec);
    txn.delete(this.#vipErrors, key);
    if (!needsVip(rec.service)) {
      this.#release(key, txn);
      return;
    }
    if (this.#pool.get(key) !== undefined) return;
    const cursor = this.#pool.cursor;
    const vip = this.#pool.allocate(key);
    txn.alter(key, () => {
      this.#pool.release(key);
      this.#pool.cursor = cursor;
    }, () => this.#log.info("allocated VIP", { service: key, vip }));
  }

  /**
   * Gives the VIPs a change freed to services left without one (the pool was full when the
   * state loaded, after `subnet` shrank), in name order, journalled with the change. Before,
   * such a service waited for its next update from KubeEdge however many VIPs were free.
   */
  #assignWaiting(affected: Set<ServiceKey>, txn: Txn): void {
    for (const key of [...this.#vipErrors.keys()].sort()) {
      if (this.#pool.used >= this.#pool.size) return;
      const rec = this.#services.get(key);
      if (!rec) continue;
      this.#upsertService(key, rec, txn);
      affected.add(key);
    }
  }

  #removeService(key: ServiceKey, txn: Txn): void {
    txn.delete(this.#services, key);
    txn.delete(this.#vipErrors, key);
    this.#release(key, txn);
  }

  #release(key: ServiceKey, txn: Txn): void {
    const vip = this.#pool.release(key);
    if (vip === undefined) return;
    txn.alter(
      key,
      () => this.#pool.reserve(key, vip),
      () => this.#log.info("released VIP", { service: key, vip }),
    );
  }

  /** Rebuilds the entry of one service from its sources. */
  #recompute(key: ServiceKey, txn: Txn): void {
    const old = this.#entries.get(key);
    const rec = this.#services.get(key);
    const vip = rec ? this.#pool.get(key) ?? null : null;
    // The index entry of a kept VIP stays in place (a rolled-back no-op keeps the map's order).
    if (old?.vip && old.vip !== vip && this.#vipIndex.get(old.vip) === key) {
      txn.delete(this.#vipIndex, old.vip);
    }
    if (!rec) {
      txn.delete(this.#entries, key);
      return;
    }
    const { endpoints, source } = this.#endpointsFor(key, rec);
    const vipError = this.#vipErrors.get(key);
    const entry: ServiceEntry = {
      service: rec.service,
      vip,
      ...(vipError === undefined ? {} : { vipError }),
      endpoints,
      endpointSource: source,
    };
    if (vip !== null && this.#vipIndex.get(vip) !== key) txn.set(this.#vipIndex, vip, key);
    txn.set(this.#entries, key, entry);
  }

  /** Endpoint source precedence: EndpointSlices, else Endpoints, else podlist, else pods. */
  #endpointsFor(
    key: ServiceKey,
    rec: ServiceRecord,
  ): { endpoints: readonly Endpoint[]; source: EndpointSource } {
    const sliceKeys = this.#slicesBySvc.get(key);
    if (sliceKeys && sliceKeys.size > 0) {
      const out: Endpoint[] = [];
      const seen = new Set<string>();
      for (const sk of [...sliceKeys].sort()) {
        for (const ep of this.#slices.get(sk)?.endpoints ?? []) {
          const id = `${ep.ip} ${JSON.stringify(ep.ports)}`;
          if (seen.has(id)) continue;
          seen.add(id);
          out.push(ep);
        }
      }
      return { endpoints: out, source: "endpointslice" };
    }
    const eps = this.#endpoints.get(key);
    if (eps) return { endpoints: eps.endpoints, source: "endpoints" };
    const pl = this.#podlists.get(key);
    if (pl) return { endpoints: podEndpoints(rec.service, pl.pods), source: "podlist" };
    if (rec.selector && this.#pods.size > 0) {
      const sel = rec.selector;
      const pods = [...this.#pods.values()].filter((p) =>
        p.namespace === rec.service.namespace && selectorMatches(sel, p.labels)
      );
      if (pods.length > 0) return { endpoints: podEndpoints(rec.service, pods), source: "podlist" };
    }
    return { endpoints: [], source: "none" };
  }

  // -------------------------------------------------------------------------------------------
  // Restore

  /**
   * A persisted Endpoints or slice record without the endpoints whose address can never be one
   * (loopback, unspecified, link-local: `specialIpProblem`), each dropped with a `warn` line;
   * the same record when it has none. Incoming changes with such addresses are refused
   * (`convert.ts`); state written before that rule still loads, without them.
   */
  #withoutSpecialIps<T extends { readonly endpoints: readonly Endpoint[] }>(
    record: T,
    what: string,
  ): T {
    const kept = record.endpoints.filter((ep) => {
      const problem = specialIpProblem(ep.ip);
      if (problem === null) return true;
      this.#log.warn(
        `Dropping a persisted endpoint of ${what}: ${problem} (stored before such addresses ` +
          "were refused; Kubernetes rejects them too)",
        { endpoint: ep.ip, ...(ep.nodeName !== null ? { nodeName: ep.nodeName } : {}) },
      );
      return false;
    });
    return kept.length === record.endpoints.length ? record : { ...record, endpoints: kept };
  }

  /**
   * Loads persisted state; returns true when it must be written again: VIP assignments had to
   * change, or endpoints that can never be one were dropped.
   */
  #restore(s: PersistedState): boolean {
    const txn = new Txn(); // never rolled back; the mutators need one
    let changed = false;
    for (const r of s.services) {
      this.#services.set(serviceKey(r.service.namespace, r.service.name), r);
    }
    for (const e0 of s.endpoints) {
      const key = serviceKey(e0.namespace, e0.name);
      const e = this.#withoutSpecialIps(e0, `Endpoints ${JSON.stringify(key)}`);
      if (e !== e0) changed = true;
      this.#endpoints.set(key, e);
    }
    for (const sl0 of s.slices) {
      const sk = `${sl0.namespace}/${sl0.name}`;
      const sl = this.#withoutSpecialIps(sl0, `EndpointSlice ${JSON.stringify(sk)}`);
      if (sl !== sl0) changed = true;
      this.#slices.set(sk, sl);
      this.#indexSlice(serviceKey(sl.namespace, sl.service), sk, true, txn);
    }
    for (const pl of s.podlists) this.#podlists.set(serviceKey(pl.namespace, pl.name), pl);
    for (const p of s.pods) this.#pods.set(`${p.namespace}/${p.name}`, p);
    for (const n of s.nodes) this.#nodes.set(n.name, n);
    if (s.subnet === this.#pool.subnet.cidr) this.#pool.cursor = s.cursor;
    else {
      this.#log.warn("VIP subnet changed since the state was written", {
        was: s.subnet,
        now: this.#pool.subnet.cidr,
      });
      changed = true;
    }
    for (const [key, vip] of s.vips) {
      const rec = this.#services.get(key);
      if (!rec || !needsVip(rec.service)) {
        changed = true;
        continue;
      }
      if (!this.#pool.reserve(key, vip)) {
        this.#log.warn("dropping persisted VIP outside the subnet or taken; reallocating", {
          service: key,
          vip,
          subnet: this.#pool.subnet.cidr,
        });
        changed = true;
      }
    }
    for (const [key, rec] of this.#services) {
      if (!needsVip(rec.service) || this.#pool.get(key) !== undefined) continue;
      changed = true;
      try {
        const vip = this.#pool.allocate(key);
        this.#log.info("allocated VIP", { service: key, vip });
      } catch (e) {
        if (!(e instanceof PoolExhaustedError)) throw e;
        this.#vipErrors.set(key, e.message);
        this.#log.error("cannot restore VIP", { service: key, error: e });
      }
    }
    for (const key of this.#services.keys()) this.#recompute(key, txn);
    this.#version = s.version;
    this.#servicesDirty = this.#nodesDirty = true;
    this.#log.info("registry state loaded", {
      path: this.#path,
      services: this.#services.size,
      vips: this.#pool.used,
      nodes: this.#nodes.size,
    });
    return changed;
  }
}
