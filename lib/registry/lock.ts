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

/** An exclusive lock on a state directory, held until {@linkcode release}. */
export class StateDirLock {
  readonly #file: Deno.FsFile;

  private constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  /**
   * Creates `stateDir` (mode 0700) when missing and locks it without waiting.
   * @throws {StateDirBusyError} when another process holds the lock, naming its pid
   */
  static async acquire(stateDir: string): Promise<StateDirLock> {
    await Deno.mkdir(stateDir, { recursive: true, mode: 0o700 });
    const path = join(stateDir, LOCK_FILE);
    const file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
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
