// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Watching a set of files by polling `stat`: the core of the tunnel's TLS and key file reloads
 * and of the DNS server's resolv.conf watch. A change of a file's stamp — modification time, size and inode of
 * what its path resolves to — makes the whole set be read again; a set whose contents differ from
 * the one in use is checked and applied. Why polling and not `Deno.watchFs`: the symlink swap of a
 * Kubernetes secret volume (`..data` pointing to a new directory) changes no watched file.
 * @module
 */

/** What identifies a version of a file: `stat` of what its path resolves to. */
export interface FileStamp {
  readonly mtimeMs: number | null;
  readonly size: number;
  readonly ino: number | null;
}

/** `Deno.stat` as a {@linkcode FileStamp} (follows symlinks; the read permission suffices). */
export async function statStamp(path: string): Promise<FileStamp> {
  const info = await Deno.stat(path);
  return { mtimeMs: info.mtime?.getTime() ?? null, size: info.size, ino: info.ino };
}

/** A checked set, or why it cannot be used. */
export type SetCheck<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly problem: string };

/** Options of {@linkcode FileSetWatcher}. */
export interface FileSetWatcherOptions<C, T> {
  readonly paths: readonly string[];
  /** The contents in use now (read at start), one per path. */
  readonly initial: readonly C[];
  readonly stat: (path: string) => Promise<FileStamp>;
  readonly read: (path: string) => Promise<C>;
  readonly same: (a: C, b: C) => boolean;
  /** Validates a new set (pure). */
  readonly check: (contents: readonly C[]) => SetCheck<T>;
  /** Puts a checked set to use; throwing (or rejecting) refuses it. */
  readonly apply: (value: T, contents: readonly C[], changed: readonly number[]) => unknown;
  /** Called once per distinct problem (a new problem, or the same after a success). */
  readonly warn: (problem: string) => void;
}

/** See the module docs; {@linkcode poll} is one check, {@linkcode start} repeats it. */
export class FileSetWatcher<C, T> {
  readonly #o: FileSetWatcherOptions<C, T>;
  #current: readonly C[];
  /** Stamps of the set in use; null until the first poll (which compares contents). */
  #stamps: readonly FileStamp[] | null = null;
  #problem: string | null = null;
  #timer: ReturnType<typeof setInterval> | null = null;
  #busy = false;

  constructor(options: FileSetWatcherOptions<C, T>) {
    this.#o = options;
    this.#current = options.initial;
  }

  /** The contents in use now. */
  get current(): readonly C[] {
    return this.#current;
  }

  /** Polls every `everyMs` on an unreferenced timer (it never keeps the process alive). */
  start(everyMs: number): void {
    if (this.#timer !== null) return;
    this.#timer = setInterval(() => void this.poll(), everyMs);
    Deno.unrefTimer(this.#timer);
  }

  close(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /**
   * One check; resolves to true when a new set was applied. A set that fails its check or is
   * refused keeps the old stamps, so the next poll reads it again (a half-written file).
   * Never rejects.
   */
  async poll(): Promise<boolean> {
    if (this.#busy) return false;
    this.#busy = true;
    try {
      return await this.#poll();
    } finally {
      this.#busy = false;
    }
  }

  async #poll(): Promise<boolean> {
    const o = this.#o;
    let stamps: FileStamp[];
    try {
      stamps = await Promise.all(o.paths.map((p) => o.stat(p)));
    } catch (err) {
      this.#warn(`cannot stat: ${message(err)}`);
      return false;
    }
    const old = this.#stamps;
    if (old !== null && stamps.every((s, i) => sameStamp(s, old[i]!))) return false;
    let next: C[];
    try {
      next = await Promise.all(o.paths.map((p) => o.read(p)));
    } catch (err) {
      this.#warn(`cannot read: ${message(err)}`);
      return false;
    }
    const changed = next.flatMap((c, i) => o.same(c, this.#current[i]!) ? [] : [i]);
    if (changed.length === 0) {
      // Touched, or rewritten with the same bytes: nothing to do.
      this.#stamps = stamps;
      this.#problem = null;
      return false;
    }
    const checked = o.check(next);
    if (!checked.ok) {
      this.#warn(checked.problem);
      return false;
    }
    try {
      await o.apply(checked.value, next, changed);
    } catch (err) {
      this.#warn(`cannot use them: ${message(err)}`);
      return false;
    }
    this.#current = next;
    this.#stamps = stamps;
    this.#problem = null;
    return true;
  }

  #warn(problem: string): void {
    if (problem === this.#problem) return;
    this.#problem = problem;
    this.#o.warn(problem);
  }
}

function sameStamp(a: FileStamp, b: FileStamp): boolean {
  return a.mtimeMs === b.mtimeMs && a.size === b.size && a.ino === b.ino;
}

/** An error's message, for a log field. */
export function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
