// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * One agent per state directory. Two agents writing the same `state.journal` interleave
 * entries with the same versions, and after a restart a change one of them acknowledged as
 * durable is lost. The control socket only catches a second agent on the same socket path, so
 * the registry also holds an exclusive advisory lock (flock(2), through `Deno.FsFile.tryLock`)
 * on `<stateDir>/lock` while it is open. The kernel drops the lock when the process ends, even
 * by `kill -9`, so a crash never leaves the directory locked.
 * @module
 */
import { join } from "node:path";

/** The lock file inside `stateDir`; it holds the pid of the agent that has it. */
export const LOCK_FILE = "lock";

/** `stateDir` is in use by another process; nothing was read or written. */
export class StateDirBusyError extends Error {
  override name = "StateDirBusyError";
}

/**
 * `stateDir` cannot be created or opened (read-only file system, a file in its place). The
 * message names the directory and the config key; the system's error is the `cause`.
 */
export class StateDirError extends Error {
  override name = "StateDirError";
}

/**
 * `err` from creating `stateDir` or its lock file, as the agent reports it: the bare system
 * error (`Read-only file system (os error 30): open '/var/lib/edgemesh/lock'`) named neither
 * the setting nor why the agent writes there. A refused Deno permission passes unchanged (the
 * CLI words those itself).
 */
function stateDirError(stateDir: string, err: unknown): unknown {
  if (!(err instanceof Error) || err instanceof Deno.errors.NotCapable) return err;
  return new StateDirError(
    `Cannot use state directory "${stateDir}" (stateDir): ${err.message}; the agent writes ` +
      `every accepted change there before acknowledging it, so it must be a writable directory`,
    { cause: err },
  );
}

/** An exclusive lock on a state directory, held until {@linkcode release}. */
export class StateDirLock {
  readonly #file: Deno.FsFile;

  private constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  /**
   * Creates `stateDir` (mode 0700) when missing and locks it without waiting.
   * @throws {StateDirBusyError} when another process holds the lock, naming its pid
   * @throws {StateDirError} when the directory or its lock file cannot be created or opened
   */
  static async acquire(stateDir: string): Promise<StateDirLock> {
    const path = join(stateDir, LOCK_FILE);
    let file: Deno.FsFile;
    try {
      await Deno.mkdir(stateDir, { recursive: true, mode: 0o700 });
      file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
    } catch (err) {
      throw stateDirError(stateDir, err);
    }
    let locked = false;
    try {
      locked = await file.tryLock(true);
      if (!locked) {
        const holder = (await Deno.readTextFile(path).catch(() => "")).trim();
        throw new StateDirBusyError(
          `Cannot use state directory "${stateDir}": another edgemesh agent` +
            `${/^\d+$/.test(holder) ? ` (pid ${holder})` : ""} is using it ` +
            `(${path} is locked); give each agent its own stateDir`,
        );
      }
      await file.truncate(0);
      await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
      return new StateDirLock(file);
    } catch (err) {
      file.close();
      throw err;
    }
  }

  /** Releases the lock (closing the file drops it). Idempotent. */
  release(): void {
    try {
      this.#file.close();
    } catch (err) {
      if (!(err instanceof Deno.errors.BadResource)) throw err;
    }
  }
}
