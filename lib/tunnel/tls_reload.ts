// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Reloading the tunnel's TLS files (`tunnelTLS`) while the agent runs: certificates are
 * renewed every 60–90 days by tooling that replaces the files (atomic renames, the symlink
 * swap of a Kubernetes secret volume). The files are polled with `stat` (mtime, size, inode of
 * what the path resolves to; `Deno.watchFs` misses symlink swaps), a change is read and
 * validated, and a good set is handed to the server and dialer. A bad set (unparsable PEM, a
 * key that does not match the certificate, a half-written file) is refused: the old
 * credentials keep serving, the problem is warned once, and it is tried again at the next poll.
 * @module
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import type { TunnelTlsConfig } from "../config/schema.ts";
import type { Logger } from "../log/mod.ts";
import type { TunnelTls } from "./dialer.ts";

/** How often the files are checked, ms. */
export const TLS_POLL_MS = 10_000;

/** What identifies a version of a file: `stat` of what its path resolves to. */
export interface FileStamp {
  readonly mtimeMs: number | null;
  readonly size: number;
  readonly ino: number | null;
}

/** The file access of {@linkcode TlsFileWatcher} (tests inject their own). */
export interface TlsFileIo {
  stat(path: string): Promise<FileStamp>;
  readTextFile(path: string): Promise<string>;
}

/** `Deno.stat` (follows symlinks) and `Deno.readTextFile`: reads the agent may already do. */
export const denoTlsFileIo: TlsFileIo = {
  async stat(path) {
    const info = await Deno.stat(path);
    return { mtimeMs: info.mtime?.getTime() ?? null, size: info.size, ino: info.ino };
  },
  readTextFile: (path) => Deno.readTextFile(path),
};

/** A certificate's facts shown to operators. */
export interface CertificateInfo {
  /** End of validity, ms since the epoch. */
  readonly expiresAt: number;
  /** Serial number, hex as `X509Certificate.serialNumber` gives it. */
  readonly serial: string;
}

/** Result of {@linkcode validateTunnelTls}. */
export type TlsValidation =
  | ({ readonly ok: true } & CertificateInfo)
  | { readonly ok: false; readonly problem: string };

/**
 * Checks a set of TLS PEM texts before it is served: the certificate (its first one) and the
 * CA bundle parse as X.509, the key parses and matches the certificate. Pure.
 */
export function validateTunnelTls(tls: TunnelTls): TlsValidation {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(tls.cert);
  } catch (err) {
    return { ok: false, problem: `certificate (certFile) does not parse: ${message(err)}` };
  }
  try {
    if (!cert.checkPrivateKey(createPrivateKey(tls.key))) {
      return { ok: false, problem: "the key (keyFile) does not match the certificate (certFile)" };
    }
  } catch (err) {
    return { ok: false, problem: `key (keyFile) does not parse: ${message(err)}` };
  }
  try {
    new X509Certificate(tls.ca);
  } catch (err) {
    return { ok: false, problem: `CA bundle (caFile) does not parse: ${message(err)}` };
  }
  return { ok: true, expiresAt: Date.parse(cert.validTo), serial: cert.serialNumber };
}

/** What changed in a reload: the names of the files whose contents differ. */
export type TlsFileName = "certFile" | "keyFile" | "caFile";

/** Options of {@linkcode TlsFileWatcher}. */
export interface TlsFileWatcherOptions {
  readonly files: TunnelTlsConfig;
  /** The set read at start (what is served now). */
  readonly initial: TunnelTls;
  readonly log: Logger;
  /**
   * Puts a validated new set to use; throwing refuses it (the old one stays, the error is
   * warned like a validation problem).
   */
  readonly apply: (tls: TunnelTls, info: CertificateInfo, changed: readonly TlsFileName[]) => void;
  /** @default denoTlsFileIo */
  readonly io?: TlsFileIo;
}

const NAMES: readonly TlsFileName[] = ["certFile", "keyFile", "caFile"];
const FIELDS = { certFile: "cert", keyFile: "key", caFile: "ca" } as const;

/**
 * Polls the three files; see the module docs. {@linkcode poll} does one check (tests call it
 * directly); {@linkcode start} runs it every {@linkcode TLS_POLL_MS} until {@linkcode close}.
 */
export class TlsFileWatcher {
  readonly #o: TlsFileWatcherOptions;
  readonly #io: TlsFileIo;
  #current: TunnelTls;
  /** Stamps of the set in use; null until the first poll (which compares contents). */
  #stamps: readonly FileStamp[] | null = null;
  /** The last problem warned, so each distinct one is warned once. */
  #problem: string | null = null;
  #timer: ReturnType<typeof setInterval> | null = null;
  #busy = false;

  constructor(options: TlsFileWatcherOptions) {
    this.#o = options;
    this.#io = options.io ?? denoTlsFileIo;
    this.#current = options.initial;
  }

  /** The set in use now. */
  get current(): TunnelTls {
    return this.#current;
  }

  /** Polls every `everyMs` (an unreferenced timer: it never keeps the process alive). */
  start(everyMs: number = TLS_POLL_MS): void {
    if (this.#timer !== null) return;
    this.#timer = setInterval(() => void this.poll(), everyMs);
    Deno.unrefTimer(this.#timer);
  }

  close(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /**
   * One check: when a file's stamp changed (or on the first poll), reads the three files and,
   * when their contents differ from the set in use and validate, applies them. Resolves to
   * true when a new set was applied. Never rejects.
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
    const files = this.#o.files;
    let stamps: FileStamp[];
    try {
      stamps = await Promise.all(NAMES.map((n) => this.#io.stat(files[n])));
    } catch (err) {
      this.#warn(`cannot stat: ${message(err)}`);
      return false;
    }
    const old = this.#stamps;
    if (old !== null && stamps.every((s, i) => sameStamp(s, old[i]!))) return false;
    let next: TunnelTls;
    try {
      const [cert, key, ca] = await Promise.all(
        NAMES.map((n) => this.#io.readTextFile(files[n])),
      );
      next = { cert: cert!, key: key!, ca: ca! };
    } catch (err) {
      this.#warn(`cannot read: ${message(err)}`);
      return false;
    }
    const changed = NAMES.filter((n) => next[FIELDS[n]] !== this.#current[FIELDS[n]]);
    if (changed.length === 0) {
      // Touched, or rewritten with the same bytes: nothing to do.
      this.#stamps = stamps;
      this.#problem = null;
      return false;
    }
    const checked = validateTunnelTls(next);
    if (!checked.ok) {
      // Stamps are kept as they were: the next poll reads again (a half-written file).
      this.#warn(checked.problem);
      return false;
    }
    try {
      this.#o.apply(next, checked, changed);
    } catch (err) {
      this.#warn(`cannot serve it: ${message(err)}`);
      return false;
    }
    this.#current = next;
    this.#stamps = stamps;
    this.#problem = null;
    this.#o.log.info("tunnel TLS files reloaded", {
      changed: changed.join(","),
      serial: checked.serial,
      expires: new Date(checked.expiresAt).toISOString(),
    });
    return true;
  }

  #warn(problem: string): void {
    if (problem === this.#problem) return;
    this.#problem = problem;
    this.#o.log.warn(
      "Cannot reload the tunnel TLS files, the old certificate keeps serving until they are fixed",
      { problem, certFile: this.#o.files.certFile, keyFile: this.#o.files.keyFile },
    );
  }
}

function sameStamp(a: FileStamp, b: FileStamp): boolean {
  return a.mtimeMs === b.mtimeMs && a.size === b.size && a.ino === b.ino;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
