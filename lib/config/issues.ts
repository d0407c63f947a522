// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Problems found in a configuration: {@linkcode ConfigIssue} (a key path and a message), and
 * {@linkcode ConfigError}, which carries every one of them (the agent refuses to start on it).
 * @module
 */

/** One problem found in a configuration: the key path (`tunnelTLS.caFile`, `dnsListen[1]`). */
export interface ConfigIssue {
  /** Dotted key path; "" for the document itself. */
  readonly path: string;
  readonly message: string;
}

/**
 * The configuration is unusable. `issues` lists every problem; the agent refuses to start.
 * A `TypeError` subclass so callers can branch on it (`err instanceof ConfigError`).
 */
export class ConfigError extends TypeError {
  override name = "ConfigError";
  /** Every problem found, in key order. */
  readonly issues: readonly ConfigIssue[];
  /** The file the config came from, when there was one. */
  readonly file: string | undefined;

  constructor(issues: readonly ConfigIssue[], file?: string) {
    const where = file === undefined ? "config" : `config "${file}"`;
    super(`Cannot load ${where}: ${issues.map(formatIssue).join("; ")}`);
    this.issues = Object.freeze([...issues]);
    this.file = file;
  }
}

/** `path: message`, or just the message for document-level problems. */
export function formatIssue(issue: ConfigIssue): string {
  return issue.path === "" ? issue.message : `${issue.path}: ${issue.message}`;
}
