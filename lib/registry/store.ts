// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Persistence of the registry in `stateDir`: `state.json` (a full checkpoint in a versioned
 * format, replaced by an atomic write: temp file in the same directory, fsync, rename, fsync of
 * the directory) plus `state.journal`, an append-only log of what each group-committed batch
 * changed since the checkpoint (one JSON line per batch, fdatasync'd before the batch is
 * acknowledged). A change then costs a write in proportion to what it touched, not to the
 * registry; the journal is folded into a new checkpoint once it outgrows it. This file holds
 * the file I/O and loading; the formats are `state_format.ts`.
 *
 * A file that cannot be parsed or validated is never overwritten or discarded: it is renamed to
 * `state.json.corrupt-<timestamp>` and reported, and the registry starts empty.
 * @module
 */

import { dirname, join } from "node:path";
import type { Logger } from "../log/mod.ts";
import { decodeState, type PersistedState, replayJournal } from "./state_format.ts";

/** File name of the state inside `stateDir`. */
export const STATE_FILE = "state.json";
/** File name of the journal of changes since `state.json` inside `stateDir`. */
export const JOURNAL_FILE = "state.journal";

/**
 * The file-system seam of the store (tests inject failures or count writes). Without
 * `append` and `truncate` every batch rewrites the whole `state.json` (no journal).
 */
export interface StateFs {
  /** Replaces `path` with `data` atomically and durably. */
  writeAtomic(path: string, data: string): Promise<void>;
  /** Appends `data` to `path` (created 0600 when missing) and makes it durable. */
  append?(path: string, data: string): Promise<void>;
  /** Empties `path` durably (a missing file is fine). */
  truncate?(path: string): Promise<void>;
}

const encoder = new TextEncoder();

/**
 * Writes `data` to `path` so that after a crash the file holds either the old or the new
 * content, never a mix: write `path.tmp` in the same directory, fsync it, rename it over
 * `path`, then fsync the directory so the rename itself is durable. When the write or the
 * rename fails, `path.tmp` is removed: on a full disk the part written would otherwise keep
 * its space, and the next attempt would have even less.
 */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.tmp`;
  const bytes = encoder.encode(data);
  const f = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: 0o600 });
  try {
    try {
      let off = 0;
      while (off < bytes.length) off += await f.write(bytes.subarray(off));
      await f.sync();
    } finally {
      f.close();
    }
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
  await syncDir(path);
}

async function syncDir(path: string): Promise<void> {
  const dir = await Deno.open(dirname(path), { read: true });
  try {
    await dir.sync();
  } finally {
    dir.close();
  }
}

/**
 * Appends `data` to `path` and fdatasyncs it (group commit makes that one sync per batch).
 * When the file was empty (just created or truncated) the directory is fsynced too, so the
 * file's entry survives a crash.
 *
 * An append that fails is taken back when the file allows it: truncated to its length before,
 * and synced. A failed write can leave part of the line (a full disk), and a failed sync the
 * whole of it, of a change the caller then refuses; left there, a restart before the next full
 * rewrite would replay a change that was refused. (A torn line is dropped on load anyway; a
 * whole one is not.) The truncate frees space, so it works on a full disk too.
 */
export async function appendFileDurable(path: string, data: string): Promise<void> {
  const bytes = encoder.encode(data);
  const f = await Deno.open(path, { append: true, create: true, mode: 0o600 });
  // The length before this append; null until known (then nothing is truncated: a failed
  // stat must not empty the journal).
  let size: number | null = null;
  try {
    size = (await f.stat()).size;
    let off = 0;
    while (off < bytes.length) off += await f.write(bytes.subarray(off));
    await f.syncData();
  } catch (err) {
    if (size !== null) {
      try {
        await f.truncate(size);
        await f.syncData();
      } catch { /* the caller rewrites both files before it appends again */ }
    }
    throw err;
  } finally {
    f.close();
  }
  if (size === 0) await syncDir(path);
}

/** Truncates `path` to zero bytes and fsyncs it; a missing file is left missing. */
export async function truncateFileDurable(path: string): Promise<void> {
  let f: Deno.FsFile;
  try {
    f = await Deno.open(path, { write: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  try {
    await f.truncate(0);
    await f.sync();
  } finally {
    f.close();
  }
}

/** The real file system. */
export const denoStateFs: StateFs = {
  writeAtomic: writeFileAtomic,
  append: appendFileDurable,
  truncate: truncateFileDurable,
};

/** Result of {@linkcode loadState}. */
export interface LoadResult {
  /** The state (checkpoint plus journal), or null when there was none or it was unreadable. */
  readonly state: PersistedState | null;
  /** Set when a file was unreadable: what happened, for `ctl status`. */
  readonly warning: string | null;
  /** Size of `state.json` in bytes (0 when absent). */
  readonly stateBytes: number;
  /** Bytes of valid journal lines kept in `state.journal`. */
  readonly journalBytes: number;
  /**
   * True when the files must be rewritten before anything is appended: the journal ended in a
   * torn write, or was damaged and moved aside.
   */
  readonly compact: boolean;
}

function stamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
}

async function readOptional(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

async function moveAside(path: string, now: () => number): Promise<string> {
  let aside = `${path}.corrupt-${stamp(now())}`;
  for (let i = 1; await exists(aside); i++) aside = `${path}.corrupt-${stamp(now())}-${i}`;
  await Deno.rename(path, aside);
  return aside;
}

/**
 * Creates `stateDir` (mode 0700) when missing, reads `state.json` and replays `state.journal`
 * on it. A checkpoint that does not parse or validate is logged at error level with its path
 * and the reason, renamed to `state.json.corrupt-<timestamp>` (with the journal, which only
 * makes sense on top of it), and reported through `warning`. A journal whose last line is torn
 * (a crash during a write that was never acknowledged) loses that line with a warning; a
 * journal damaged elsewhere keeps the entries before the damage and is moved aside likewise.
 * @param subnet the configured subnet (the subnet of a state made from a journal alone)
 * @throws {Deno.errors.PermissionDenied | Error} when the directory or a file cannot be read at
 *   all (starting empty would then overwrite state we could not look at)
 */
export async function loadState(
  stateDir: string,
  log: Logger,
  now: () => number,
  subnet = "",
): Promise<LoadResult> {
  await Deno.mkdir(stateDir, { recursive: true, mode: 0o700 });
  const path = join(stateDir, STATE_FILE);
  const journalPath = join(stateDir, JOURNAL_FILE);
  const text = await readOptional(path);
  const journal = await readOptional(journalPath);
  let base: PersistedState | null = null;
  if (text !== null) {
    try {
      base = decodeState(text);
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      const aside = await moveAside(path, now);
      const journalAside = journal === null ? null : await moveAside(journalPath, now);
      const warning =
        `State file "${path}" is unreadable (${reason}); moved it to "${aside}" and started with an empty registry`;
      log.error("state file is unreadable; moved aside, starting empty", {
        path,
        reason,
        movedTo: aside,
        ...(journalAside === null ? {} : { journalMovedTo: journalAside }),
      });
      return { state: null, warning, stateBytes: 0, journalBytes: 0, compact: false };
    }
  }
  const stateBytes = text === null ? 0 : encoder.encode(text).length;
  if (journal === null || journal === "") {
    return { state: base, warning: null, stateBytes, journalBytes: 0, compact: false };
  }
  const r = replayJournal(base, subnet, journal);
  if (r.corrupt !== null) {
    const aside = await moveAside(journalPath, now);
    const warning =
      `Journal "${journalPath}" is damaged (${r.corrupt}); kept the ${r.applied} entries before the damage and moved it to "${aside}"`;
    log.error("state journal is damaged; kept the entries before the damage, moved it aside", {
      path: journalPath,
      reason: r.corrupt,
      movedTo: aside,
      applied: r.applied,
    });
    return { state: r.state, warning, stateBytes, journalBytes: 0, compact: true };
  }
  if (r.tornTail !== null) {
    log.warn("state journal ends in a torn write (never acknowledged); dropped it", {
      path: journalPath,
      reason: r.tornTail,
    });
  }
  return {
    state: r.state,
    warning: null,
    stateBytes,
    journalBytes: encoder.encode(journal.slice(0, r.validBytes)).length,
    compact: r.tornTail !== null,
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
