// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Reloading the cluster keys while the agent runs: `tunnelKeyFile` (signs new streams and is
 * accepted) and `tunnelAcceptKeyFiles` (accepted only), so a key can be rotated without a
 * moment where nodes refuse each other (lib/tunnel/README.md "Rotating the cluster key"). The
 * files are polled like the TLS files ({@linkcode FileSetWatcher}); a changed set whose keys
 * are all at least 32 bytes is applied, otherwise the old keys stay and the problem is warned
 * once. Key bytes are never logged.
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { MIN_KEY_BYTES } from "./auth.ts";
import { FileSetWatcher, type FileStamp, statStamp } from "../sys/file_watch.ts";

/** How often the key files are checked, ms. */
export const KEY_POLL_MS = 10_000;

/** The file access of {@linkcode KeyFileWatcher} (tests inject their own). */
export interface KeyFileIo {
  stat(path: string): Promise<FileStamp>;
  readFile(path: string): Promise<Uint8Array>;
}

/** `Deno.stat` and `Deno.readFile`. */
export const denoKeyFileIo: KeyFileIo = { stat: statStamp, readFile: (p) => Deno.readFile(p) };

/** A key file and the config key that names it (`tunnelKeyFile`, `tunnelAcceptKeyFiles[1]`). */
export interface KeyFile {
  readonly path: string;
  readonly configKey: string;
}

/** The key files of a config: `tunnelKeyFile` first, then `tunnelAcceptKeyFiles` in order. */
export function keyFilesOf(keyFile: string, acceptKeyFiles: readonly string[]): KeyFile[] {
  return [
    { path: keyFile, configKey: "tunnelKeyFile" },
    ...acceptKeyFiles.map((path, i) => ({ path, configKey: `tunnelAcceptKeyFiles[${i}]` })),
  ];
}

/** Options of {@linkcode KeyFileWatcher}. */
export interface KeyFileWatcherOptions {
  /** `tunnelKeyFile` first ({@linkcode keyFilesOf}). */
  readonly files: readonly KeyFile[];
  /** The keys read at start, one per file. */
  readonly initial: readonly Uint8Array[];
  readonly log: Logger;
  /** Puts new keys to use: the signing key and the accepted ones; throwing refuses them. */
  readonly apply: (key: Uint8Array, accept: readonly Uint8Array[]) => unknown;
  /** @default denoKeyFileIo */
  readonly io?: KeyFileIo;
}

/** Watches the key files; {@linkcode poll} is one check, {@linkcode start} repeats it. */
export class KeyFileWatcher {
  readonly #w: FileSetWatcher<Uint8Array, readonly Uint8Array[]>;

  constructor(options: KeyFileWatcherOptions) {
    const io = options.io ?? denoKeyFileIo;
    const { files, log } = options;
    this.#w = new FileSetWatcher<Uint8Array, readonly Uint8Array[]>({
      paths: files.map((f) => f.path),
      initial: options.initial,
      stat: (p) => io.stat(p),
      read: (p) => io.readFile(p),
      same: sameBytes,
      check: (keys) => {
        const short = keys.findIndex((k) => k.length < MIN_KEY_BYTES);
        if (short < 0) return { ok: true, value: keys };
        const f = files[short]!;
        return {
          ok: false,
          problem: `${f.configKey} "${f.path}" has ${keys[short]!.length} bytes, at least ` +
            `${MIN_KEY_BYTES} are required`,
        };
      },
      apply: async (keys, _contents, changed) => {
        await options.apply(keys[0]!, keys.slice(1));
        log.info("tunnel key files reloaded", {
          changed: changed.map((i) => files[i]!.configKey).join(","),
          acceptedKeys: keys.length,
        });
      },
      warn: (problem) =>
        log.warn("Cannot reload the tunnel key files, the old keys stay in use", { problem }),
    });
  }

  /** Polls every `everyMs` (an unreferenced timer). */
  start(everyMs: number = KEY_POLL_MS): void {
    this.#w.start(everyMs);
  }

  close(): void {
    this.#w.close();
  }

  /** One check; resolves to true when new keys were applied. Never rejects. */
  poll(): Promise<boolean> {
    return this.#w.poll();
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
