// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The one seam through which the agent runs external commands (`ip`), so planning logic is
 * tested with a fake that records argv, as kube-proxy injects `exec.Interface`.
 * @module
 */

/** Result of one finished command. */
export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command (argv[0] looked up on PATH), optionally feeding `stdin`. */
export interface Exec {
  run(
    argv: readonly string[],
    options?: { stdin?: string; signal?: AbortSignal },
  ): Promise<ExecResult>;
}

/** A command that could not run or exited non-zero; callers branch on it. */
export class CommandError extends Error {
  override name = "CommandError";
  constructor(
    readonly argv: readonly string[],
    readonly code: number,
    readonly stderr: string,
    options?: ErrorOptions,
  ) {
    super(
      `Cannot run "${argv.join(" ")}": ${
        code < 0 ? "command not found or not permitted" : `exit code ${code}`
      }${stderr.trim() ? `: ${stderr.trim()}` : ""}`,
      options,
    );
  }
}

const decoder = new TextDecoder();

/** The real {@linkcode Exec}, built on `Deno.Command`. A missing binary yields code -1. */
export const denoExec: Exec = {
  async run(argv, options = {}) {
    const [cmd, ...args] = argv;
    if (!cmd) throw new TypeError("Cannot run command: argv is empty");
    try {
      const child = new Deno.Command(cmd, {
        args,
        stdin: options.stdin !== undefined ? "piped" : "null",
        stdout: "piped",
        stderr: "piped",
        ...(options.signal ? { signal: options.signal } : {}),
      }).spawn();
      if (options.stdin !== undefined) {
        const w = child.stdin.getWriter();
        await w.write(new TextEncoder().encode(options.stdin));
        await w.close();
      }
      const out = await child.output();
      return {
        code: out.code,
        stdout: decoder.decode(out.stdout),
        stderr: decoder.decode(out.stderr),
      };
    } catch (err) {
      if (
        err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotCapable ||
        err instanceof Deno.errors.PermissionDenied
      ) {
        return { code: -1, stdout: "", stderr: String((err as Error).message) };
      }
      throw err;
    }
  },
};

/** Runs `argv` and throws {@linkcode CommandError} unless it exits 0; returns stdout. */
export async function mustRun(
  exec: Exec,
  argv: readonly string[],
  options?: { stdin?: string; signal?: AbortSignal },
): Promise<string> {
  const r = await exec.run(argv, options);
  if (r.code !== 0) throw new CommandError(argv, r.code, r.stderr);
  return r.stdout;
}

/** A fake {@linkcode Exec} for tests: records argv (and stdin) and answers from `respond`. */
export function fakeExec(
  respond: (argv: readonly string[], stdin: string | undefined) => Partial<ExecResult> = () => ({}),
): Exec & { calls: { argv: readonly string[]; stdin: string | undefined }[] } {
  const calls: { argv: readonly string[]; stdin: string | undefined }[] = [];
  return {
    calls,
    run(argv, options = {}) {
      calls.push({ argv: [...argv], stdin: options.stdin });
      const r = respond(argv, options.stdin);
      return Promise.resolve({ code: r.code ?? 0, stdout: r.stdout ?? "", stderr: r.stderr ?? "" });
    },
  };
}

/**
 * Why `ip`'s output says it cannot do what NetDev asks of it, or null. Two `ip` commands lack the
 * `-json` and `-batch` options every read and write here uses: BusyBox's applet (minimal edge
 * images; it prints its usage text) and iproute2 before 4.14, 2017 (`Option "-json" is unknown`).
 * Their output names neither the cause nor the fix; this says both.
 */
export function ipCommandProblem(output: string): string | null {
  const busybox = /^BusyBox v\S+/m.exec(output);
  if (busybox) {
    return `this ip is the BusyBox applet (${busybox[0]}), which has no -json or -batch options: ` +
      "edgemesh needs the ip of iproute2 4.14 or later (package iproute2; on OpenWrt ip-full) " +
      "ahead of BusyBox's in PATH";
  }
  if (/Option "-j(son)?" is unknown/.test(output)) {
    return "this ip (iproute2) is older than 4.14 and has no -json option: edgemesh needs " +
      "iproute2 4.14 or later";
  }
  return null;
}
