// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Getting the registry's changes durable: the write loop with group commit (changes arriving
 * while a write is in flight go into the next one), each batch written as one journal line or a
 * full checkpoint (`state.json`), the rollback of everything not yet durable when a write fails,
 * and the state directory created again when it was removed while the agent ran.
 *
 * The writer reads the working state (`tables.ts`) through {@linkcode WorkingState} and leaves
 * publishing to the registry ({@linkcode Publisher}): a batch's snapshot is published, and its
 * `apply()` promises resolved, only once its write is fsynced.
 * @module
 */

import { join } from "node:path";
import type { Logger } from "../log/mod.ts";
import type { Snapshot } from "./model.ts";
import { type ConvertedChange, type ResourceChange, resourceOf } from "./convert.ts";
import { StateDirLock } from "./lock.ts";
import type { ChangeWarning } from "./warnings.ts";
import {
  encodeJournalEntry,
  encodeState,
  type JournalOp,
  type JournalTable,
  type PersistedState,
} from "./state_format.ts";
import { JOURNAL_FILE, STATE_FILE, type StateFs } from "./store.ts";
import type { RecordTable } from "./tables.ts";
import type { Txn } from "./txn.ts";

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
 * The journal is folded into a new `state.json` once it is larger than the checkpoint (so the
 * bytes written stay within twice the journal's) and at least this large.
 */
const COMPACT_MIN_BYTES = 256 * 1024;

/** A change waiting for the write that makes it durable. */
export interface Pending {
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

/** What the writer reads of the working state (`Tables`), and asks of it when a write fails. */
export interface WorkingState {
  readonly version: number;
  /** The VIP pool's cursor. */
  readonly cursor: number;
  /** The record `key` of `table` holds now; null when none. */
  record(table: RecordTable, key: string): object | null;
  /** The VIP of service `key`; null when it has none. */
  vip(key: string): string | null;
  /** The whole state, for a checkpoint. */
  persisted(): PersistedState;
  /** Whether a change found to alter nothing still alters nothing (after a rollback). */
  leavesAsIs(c: ConvertedChange): boolean;
  /** The next snapshot copies every map (changes were taken back). */
  invalidate(): void;
}

/** What the write loop asks of the registry, which publishes. */
export interface Publisher {
  /** The snapshot a batch publishes once durable, taken before it is written. */
  next(): Snapshot;
  /** A batch is durable: publishes its snapshot, logs its changes, calls the subscribers. */
  publish(snapshot: Snapshot, batch: readonly Pending[]): void;
  /** Logs a change, acknowledged now, that left the state as it was. */
  unchanged(p: Pending): void;
}

/** Options of {@linkcode StateWriter}. */
export interface WriterOptions {
  readonly stateDir: string;
  readonly fs: StateFs;
  readonly log: Logger;
  /** Clock (the `since` of {@linkcode StateWriteError}). */
  readonly now: () => number;
  /** The registry's hold on `stateDir`, taken over by the writer (it takes it again if needed). */
  readonly lock: StateDirLock;
  /** Size of `state.json` as loaded (0: none, the first write is a checkpoint). */
  readonly stateBytes: number;
  /** Size of the journal as loaded. */
  readonly journalBytes: number;
}

/**
 * The write loop of a registry: queues changes ({@linkcode StateWriter.enqueue}), writes them
 * in batches and resolves or rejects each once its batch is durable or has failed.
 */
export class StateWriter {
  readonly #log: Logger;
  readonly #fs: StateFs;
  readonly #stateDir: string;
  readonly #path: string;
  readonly #journalPath: string;
  readonly #now: () => number;
  readonly #state: WorkingState;
  readonly #publisher: Publisher;
  /** This registry's hold on `stateDir` (lock.ts). */
  #lock: StateDirLock;
  #pending: Pending[] = [];
  #loop: Promise<void> = Promise.resolve();
  #writing = false;
  #writes = 0;
  readonly #jsonCache = new WeakMap<object, string>();
  /** Keys of persisted collections touched since the last write. */
  readonly #dirty = new Map<JournalTable, Set<string>>();
  /** Size of the last `state.json` written (or loaded), and of the journal after it. */
  #stateBytes: number;
  #journalBytes: number;
  /** The next write must be a full `state.json` (none yet, or an append may have failed). */
  #needFull: boolean;
  /** Set while writes fail (see {@linkcode StateWriteError}). */
  #writeError: StateWriteError | null = null;
  /** {@linkcode retry} asked for a write while writes fail. */
  #retry = false;
  /** The file the write in progress writes: the journal or `state.json` (named in errors). */
  #target: string;

  constructor(opts: WriterOptions, state: WorkingState, publisher: Publisher) {
    this.#log = opts.log;
    this.#fs = opts.fs;
    this.#stateDir = opts.stateDir;
    this.#path = join(opts.stateDir, STATE_FILE);
    this.#journalPath = join(opts.stateDir, JOURNAL_FILE);
    this.#target = this.#path;
    this.#now = opts.now;
    this.#lock = opts.lock;
    this.#stateBytes = opts.stateBytes;
    this.#journalBytes = opts.journalBytes;
    this.#needFull = opts.stateBytes === 0;
    this.#state = state;
    this.#publisher = publisher;
  }

  /** The state file's path. */
  get path(): string {
    return this.#path;
  }

  /** Whether a write is in flight or queued. */
  get writing(): boolean {
    return this.#writing;
  }

  /** Completed state-file writes since open. */
  get writes(): number {
    return this.#writes;
  }

  /** Set while state writes fail and every change is refused; null once one succeeds. */
  get writeError(): StateWriteError | null {
    return this.#writeError;
  }

  /** Records a key of a persisted collection that the next write must carry. */
  touch(table: JournalTable, key: string): void {
    let keys = this.#dirty.get(table);
    if (!keys) this.#dirty.set(table, keys = new Set());
    keys.add(key);
  }

  /** Queues a change for the next write; starts the write loop when none runs. */
  enqueue(p: Pending): void {
    this.#pending.push(p);
    this.#kick();
  }

  /**
   * While writes fail: writes the whole state again (the checkpoint the next change would need
   * anyway), in turn with the changes, and clears {@linkcode writeError} once it is on disk.
   * Without it, `ctl status` went on saying that every change is refused after the disk was
   * freed or writable again, until a change happened to arrive. Does nothing while writes work.
   * Never rejects: a failed attempt only updates the error's `reason`.
   */
  retry(): Promise<void> {
    if (this.#writeError === null) return Promise.resolve();
    this.#retry = true;
    this.#kick();
    return this.drain();
  }

  /**
   * The checkpoint loading asked for (VIP assignments changed, a journal repaired). When it
   * cannot be written (disk full, read-only) the registry still opens, serving the state it
   * loaded, with {@linkcode writeError} set and every change refused until a write succeeds:
   * a failed repair used to stop the agent's start (`edgemesh: No space left on device`), and
   * a restart on a full disk then left the node with no VIPs and no DNS at all. The next write
   * is a whole checkpoint, so nothing is ever appended to a journal that needed repair.
   */
  async checkpointAtOpen(): Promise<void> {
    try {
      await this.writeFull();
    } catch (e) {
      this.#needFull = true;
      const reason = this.#failed(e, 0);
      this.#log.error(
        "cannot write state file; serving the state loaded, changes are refused until a write succeeds",
        { path: this.#target, reason },
      );
    }
  }

  #kick(): void {
    if (!this.#writing) {
      this.#writing = true;
      this.#loop = this.#writeLoop();
    }
  }

  /** Records a failed write of `refused` changes in {@linkcode writeError}; returns its reason. */
  #failed(e: unknown, refused: number): string {
    const reason = e instanceof Error ? e.message : String(e);
    this.#writeError = {
      since: this.#writeError?.since ?? new Date(this.#now()).toISOString(),
      reason,
      refused: (this.#writeError?.refused ?? 0) + refused,
    };
    return reason;
  }

  /** A write succeeded: logs the recovery when writes had failed. */
  #succeeded(): void {
    if (!this.#writeError) return;
    this.#log.info("state file written again; changes are accepted", {
      path: this.#target,
      refused: this.#writeError.refused,
    });
    this.#writeError = null;
  }

  /** The write {@linkcode retry} asked for, when no change is queued to carry it. */
  async #retryWrite(): Promise<void> {
    if (this.#writeError === null) return;
    this.#needFull = true;
    try {
      await this.#writeBatch();
    } catch (e) {
      // Repeats every few seconds while the disk stays full: the first failure was logged.
      const reason = this.#failed(e, 0);
      this.#log.debug("state file still cannot be written", { path: this.#target, reason });
      return;
    }
    this.#succeeded();
  }

  /** Waits until nothing is being written or queued. */
  async drain(): Promise<void> {
    while (this.#writing) await this.#loop;
  }

  /** Releases the hold on `stateDir`. */
  unlock(): void {
    this.#lock.release();
  }

  async #writeLoop(): Promise<void> {
    while (this.#pending.length > 0 || this.#retry) {
      if (this.#pending.length === 0) {
        this.#retry = false;
        await this.#retryWrite();
        continue;
      }
      const batch = this.#pending;
      this.#pending = [];
      if (batch.every((p) => p.txn === null)) {
        // Changes that left the state as it was, queued behind writes that are now durable.
        for (const p of batch) this.#publisher.unchanged(p);
        for (const p of batch) p.resolve();
        continue;
      }
      // This batch's write is the retry asked for, if any.
      this.#retry = false;
      const snap = this.#publisher.next();
      try {
        await this.#writeBatch();
      } catch (e) {
        // Take back everything not yet durable, newest first (later changes build on the batch).
        const all = [...batch, ...this.#pending];
        this.#pending = [];
        for (let i = all.length - 1; i >= 0; i--) all[i]!.txn?.rollback();
        this.#state.invalidate();
        // A failed append may have left part of a line: the next write replaces both files.
        this.#needFull = true;
        this.#dirty.clear();
        // A change found to alter nothing was compared with changes now taken back: it stays
        // acknowledged only if it alters nothing in the durable state either.
        const refused = new Set(
          all.filter((p) => p.txn !== null || !this.#state.leavesAsIs(p.unchanged!)),
        );
        const reason = this.#failed(e, refused.size);
        this.#log.error("cannot write state file; changes rolled back", {
          path: this.#target,
          reason,
          changes: refused.size,
        });
        for (const p of all) {
          if (!refused.has(p)) {
            this.#publisher.unchanged(p);
            p.resolve();
            continue;
          }
          p.reject(
            new Error(
              `Cannot apply "${resourceOf(p.change)}": writing "${this.#target}" failed: ${reason}`,
              { cause: e },
            ),
          );
        }
        continue;
      }
      this.#succeeded();
      this.#publisher.publish(snap, batch);
      for (const p of batch) p.resolve();
    }
    // Synchronous with the last resolve(): continuations of those promises run after this
    // line, so an apply() they make starts a new loop rather than being stranded.
    this.#writing = false;
  }

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
      await this.writeFull();
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
    this.#lock.release();
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
        version: this.#state.version,
        cursor: this.#state.cursor,
        ops: this.#journalOps(),
      }, this.#jsonCache);
      // Byte length equals string length for the ASCII JSON we write; close enough otherwise.
      if (this.#journalBytes + line.length <= Math.max(COMPACT_MIN_BYTES, this.#stateBytes)) {
        this.#target = this.#journalPath;
        await fs.append(this.#journalPath, line);
        this.#journalBytes += line.length;
        this.#writes++;
        return;
      }
    }
    this.#dirty.clear();
    await this.writeFull();
  }

  /** The ops of one journal line (clears the touched keys). */
  #journalOps(): JournalOp[] {
    const ops: JournalOp[] = [];
    for (const [table, keys] of this.#dirty) {
      if (table === "vips") continue;
      for (const key of keys) {
        ops.push([table, key, this.#state.record(table, key)]);
        // A service's VIP is assigned or released only together with its record.
        if (table === "services") ops.push(["vips", key, this.#state.vip(key)]);
      }
    }
    this.#dirty.clear();
    return ops;
  }

  /** Writes the whole state to `state.json` and empties the journal it now contains. */
  async writeFull(): Promise<void> {
    const data = encodeState(this.#state.persisted(), this.#jsonCache);
    this.#target = this.#path;
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
}
