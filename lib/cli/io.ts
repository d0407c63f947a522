// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The CLI's side effects behind one small interface, so commands are testable in-process and
 * `lib/` outside `lib/cli` never prints.
 * @module
 */

/** Where the CLI writes and what it reads from its environment. */
export interface CliIo {
  /** Writes to standard output (text as given; include newlines). */
  stdout(text: string): void;
  /** Writes to standard error. */
  stderr(text: string): void;
  /** Reads all of standard input (`apply -f -`). */
  readStdin(): Promise<string>;
  /** An environment variable, or undefined. */
  env(name: string): string | undefined;
}

const encoder = new TextEncoder();

function writeAllSync(file: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = encoder.encode(text);
  let off = 0;
  while (off < bytes.length) off += file.writeSync(bytes.subarray(off));
}

/** The real process streams and environment. */
export const denoIo: CliIo = {
  stdout: (text) => writeAllSync(Deno.stdout, text),
  stderr: (text) => writeAllSync(Deno.stderr, text),
  readStdin: () => new Response(Deno.stdin.readable).text(),
  env: (name) => Deno.env.get(name),
};

/**
 * A command-line mistake: the CLI prints `edgemesh: <message> (see <helpCommand> --help)` on
 * one line and exits 2, the conventional usage-error status.
 */
export class UsageError extends Error {
  override name = "UsageError";
  /** The command whose `--help` explains the fix, e.g. `edgemesh run`. */
  readonly helpCommand: string;
  constructor(message: string, helpCommand: string) {
    super(message);
    this.helpCommand = helpCommand;
  }
}
