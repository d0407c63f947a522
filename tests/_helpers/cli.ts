// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * `edgemesh ctl` in-process: `main()` with captured streams, for tests that check what a
 * command prints and its exit status without a child process per row.
 * @module
 */
import { type CliIo, main } from "../../lib/cli/mod.ts";

/** What a command printed and its exit status. */
export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `edgemesh ARGS…` in this process; `env` stands in for the environment. */
export async function edgemesh(args: string[], env: Record<string, string> = {}): Promise<Run> {
  let stdout = "";
  let stderr = "";
  const io: CliIo = {
    stdout: (text) => void (stdout += text),
    stderr: (text) => void (stderr += text),
    readStdin: () => Promise.resolve(""),
    env: (name) => env[name],
  };
  const notHere = () => {
    throw new Error("only ctl runs in these tests");
  };
  const code = await main(args, { runAgent: notHere, stopSignal: notHere }, io);
  return { code, stdout, stderr };
}
