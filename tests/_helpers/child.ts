// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Runs a Deno child process (the real CLI, `main.ts …`) with optional piped stdin and
 * collects its exit code and decoded output.
 * @module
 */

/** Outcome of one child run: exit code and decoded stdout/stderr. */
export interface ChildOutput {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `deno ARGS…` (the running Deno binary) with `stdin` piped in when given, `NO_COLOR=1`
 * so output is plain text. Resolves with the exit code and output; never throws on a
 * non-zero exit.
 */
export async function runDeno(
  args: readonly string[],
  stdin?: string,
  cwd?: string,
): Promise<ChildOutput> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...args],
    ...(cwd === undefined ? {} : { cwd }),
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** The lines of a byte stream of text (a child's stdout or stderr), without their newlines. */
export function lineReader(
  stream: ReadableStream<Uint8Array>,
): ReadableStreamDefaultReader<string> {
  let rest = "";
  return stream.pipeThrough(new TextDecoderStream()).pipeThrough(
    new TransformStream<string, string>({
      transform(chunk, c) {
        const parts = (rest + chunk).split("\n");
        rest = parts.pop()!;
        for (const l of parts) c.enqueue(l);
      },
      flush(c) {
        if (rest !== "") c.enqueue(rest);
      },
    }),
  ).getReader();
}
