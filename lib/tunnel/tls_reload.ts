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
import { FileSetWatcher, type FileStamp, message, statStamp } from "../sys/file_watch.ts";

export type { FileStamp };

/** How often the files are checked, ms. */
export const TLS_POLL_MS = 10_000;

/** The file access of {@linkcode TlsFileWatcher} (tests inject their own). */
export interface TlsFileIo {
  stat(path: string): Promise<FileStamp>;
  readTextFile(path: string): Promise<string>;
}

/** `Deno.stat` (follows symlinks) and `Deno.readTextFile`: reads the agent may already do. */
export const denoTlsFileIo: TlsFileIo = {
  stat: statStamp,
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

/**
 * Polls the three files; see the module docs. {@linkcode poll} does one check (tests call it
 * directly); {@linkcode start} runs it every {@linkcode TLS_POLL_MS} until {@linkcode close}.
 */
export class TlsFileWatcher {
  readonly #w: FileSetWatcher<string, CertificateInfo>;

  constructor(options: TlsFileWatcherOptions) {
    const io = options.io ?? denoTlsFileIo;
    const { files, log } = options;
    const set = (c: readonly string[]): TunnelTls => ({ cert: c[0]!, key: c[1]!, ca: c[2]! });
    this.#w = new FileSetWatcher<string, CertificateInfo>({
      paths: NAMES.map((n) => files[n]),
      initial: [options.initial.cert, options.initial.key, options.initial.ca],
      stat: (p) => io.stat(p),
      read: (p) => io.readTextFile(p),
      same: (a, b) => a === b,
      check: (c) => {
        const r = validateTunnelTls(set(c));
        return r.ok
          ? { ok: true, value: { expiresAt: r.expiresAt, serial: r.serial } }
          : { ok: false, problem: r.problem };
      },
      apply: (info, c, changed) => {
        const names = changed.map((i) => NAMES[i]!);
        options.apply(set(c), info, names);
        log.info("tunnel TLS files reloaded", {
          changed: names.join(","),
          serial: info.serial,
          expires: new Date(info.expiresAt).toISOString(),
        });
      },
      warn: (problem) =>
        log.warn(
          "Cannot reload the tunnel TLS files, the old certificate keeps serving until they " +
            "are fixed",
          { problem, certFile: files.certFile, keyFile: files.keyFile },
        ),
    });
  }

  /** The set in use now. */
  get current(): TunnelTls {
    const [cert, key, ca] = this.#w.current;
    return { cert: cert!, key: key!, ca: ca! };
  }

  /** Polls every `everyMs` (an unreferenced timer: it never keeps the process alive). */
  start(everyMs: number = TLS_POLL_MS): void {
    this.#w.start(everyMs);
  }

  close(): void {
    this.#w.close();
  }

  /**
   * One check: when a file's stamp changed (or on the first poll), reads the three files and,
   * when their contents differ from the set in use and validate, applies them. Resolves to
   * true when a new set was applied. Never rejects.
   */
  poll(): Promise<boolean> {
    return this.#w.poll();
  }
}
