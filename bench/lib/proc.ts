// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Child processes of the benchmark: long-running servers whose output goes to a log file
 * (and can be waited on for a line), and one-shot commands with a time bound.
 * @module
 */

/** Waits `ms` milliseconds (benchmarks may wait for a machine to settle; tests never do). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Spawns non-empty `argv` with stdin closed and stdout/stderr piped. */
function spawnPiped(
  argv: readonly string[],
  options: { env?: Record<string, string>; cwd?: string },
): Deno.ChildProcess {
  const [cmd, ...args] = argv as [string, ...string[]];
  return new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: options.env,
    cwd: options.cwd,
  }).spawn();
}

/** A long-running child process with its output in `logFile`. */
export interface Proc {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** `performance.now()` just before the spawn. */
  readonly spawnedAt: number;
  /** Resolves when the process exits. */
  readonly exited: Promise<Deno.CommandStatus>;
  /** Whether the process has exited. */
  readonly done: () => boolean;
  /** Resolves with `performance.now()` when a line matching `re` appears (also if it already did). */
  waitForLine(re: RegExp, timeoutMs: number): Promise<number>;
  /** The last lines of output, for error messages. */
  tail(lines?: number): string;
  /** Sends `signal`, waits up to `graceMs`, then SIGKILL; resolves with the exit status. */
  stop(signal?: Deno.Signal, graceMs?: number): Promise<Deno.CommandStatus>;
}

/** Spawns `argv` with stdout and stderr appended to `logFile`. */
export function spawnLogged(
  name: string,
  argv: readonly string[],
  logFile: string,
  options: { env?: Record<string, string>; cwd?: string } = {},
): Proc {
  if (argv.length === 0) throw new TypeError(`Cannot spawn "${name}": empty command`);
  const file = Deno.openSync(logFile, { create: true, append: true });
  const spawnedAt = performance.now();
  const child = spawnPiped(argv, options);
  const seen: string[] = [];
  const waiters: { re: RegExp; resolve: (t: number) => void }[] = [];
  let finished = false;
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    let partial = "";
    for await (const chunk of stream) {
      file.writeSync(chunk);
      const now = performance.now();
      partial += decoder.decode(chunk, { stream: true });
      const lines = partial.split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        seen.push(line);
        if (seen.length > 400) seen.splice(0, 200);
        for (let i = waiters.length - 1; i >= 0; i--) {
          const w = waiters[i];
          if (w && w.re.test(line)) {
            waiters.splice(i, 1);
            w.resolve(now);
          }
        }
      }
    }
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  const exited = (async () => {
    const status = await child.status;
    await pumps.catch(() => {});
    file.close();
    finished = true;
    return status;
  })();
  const proc: Proc = {
    name,
    pid: child.pid,
    logFile,
    spawnedAt,
    exited,
    done: () => finished,
    waitForLine(re, timeoutMs) {
      if (seen.some((l) => re.test(l))) return Promise.resolve(performance.now());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`"${name}" printed no line matching ${re} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.push({
          re,
          resolve: (t) => {
            clearTimeout(timer);
            resolve(t);
          },
        });
        exited.then((s) => {
          clearTimeout(timer);
          reject(
            new Error(
              `"${name}" exited with code ${s.code} before printing ${re}:\n${proc.tail(15)}`,
            ),
          );
        });
      });
    },
    tail(lines = 20) {
      return seen.slice(-lines).join("\n");
    },
    async stop(signal = "SIGTERM", graceMs = 5000) {
      if (finished) return await exited;
      try {
        child.kill(signal);
      } catch { /* already gone */ }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* already gone */ }
      }, graceMs);
      const status = await exited;
      clearTimeout(timer);
      return status;
    },
  };
  return proc;
}

/** The result of a one-shot command. */
export interface CmdResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Runs `argv` to completion, killing it after `timeoutMs`. Never throws on a non-zero exit. */
export async function runCmd(
  argv: readonly string[],
  options: { timeoutMs?: number; env?: Record<string, string>; cwd?: string; stdoutFile?: string } =
    {},
): Promise<CmdResult> {
  if (argv.length === 0) throw new TypeError("Cannot run an empty command");
  const start = performance.now();
  const child = spawnPiped(argv, options);
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, options.timeoutMs ?? 120_000);
  let stdout = "";
  const out = options.stdoutFile === undefined
    ? new Response(child.stdout).text().then((t) => {
      stdout = t;
    })
    : Deno.open(options.stdoutFile, { create: true, write: true, truncate: true }).then((f) =>
      child.stdout.pipeTo(f.writable)
    );
  const [status, stderr] = await Promise.all([
    child.status,
    new Response(child.stderr).text(),
    out,
  ]);
  clearTimeout(timer);
  return { code: status.code, stdout, stderr, ms: performance.now() - start };
}

/** Runs `argv` and throws with its stderr when it fails. */
export async function mustCmd(argv: readonly string[], timeoutMs = 30_000): Promise<string> {
  const r = await runCmd(argv, { timeoutMs });
  if (r.code !== 0) {
    throw new Error(`Cannot run "${argv.join(" ")}": exit code ${r.code}: ${r.stderr.trim()}`);
  }
  return r.stdout;
}
