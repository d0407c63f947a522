// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Starts a real agent process (`main.ts run --config FILE`) under exactly the production
 * permission flags from `scripts/permissions.ts`, so a permission the agent lacks fails a test.
 *
 * Readiness is event-driven: the helper reads the agent's stderr and resolves when the agent
 * logs `msg="agent ready"` (logfmt) or `"msg":"agent ready"` (JSON), and fails as soon as the
 * process exits first. A timer bounds the wait only as a failure guard.
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { permissionFlags } from "../../scripts/permissions.ts";
import type { TempNetns } from "./netns.ts";

const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));

/** Path of the repository's `main.ts`. */
export const MAIN_TS: string = join(ROOT, "main.ts");
/** Path of the repository's `deno.json`. */
export const DENO_JSON: string = join(ROOT, "deno.json");

/**
 * The arguments to `deno` (after `Deno.execPath()`) that run `main` (default `main.ts`) as the
 * tests do: the repository's `deno.json`, `--no-prompt` so a missing permission fails instead
 * of asking, then `flags` (permissions) and `args` (the subcommand).
 */
export function denoRunArgs(
  flags: readonly string[],
  args: readonly string[],
  main: string = MAIN_TS,
): string[] {
  return ["run", "--no-prompt", "--config", DENO_JSON, ...flags, main, ...args];
}

/**
 * A command prefix that leaves a root process exactly the capabilities of
 * `deploy/edgemesh.service` (CAP_NET_ADMIN, CAP_NET_BIND_SERVICE), via util-linux `setpriv`.
 */
export const UNIT_CAPABILITIES: readonly string[] = [
  "setpriv",
  "--bounding-set=-all,+net_admin,+net_bind_service",
  "--inh-caps=-all,+net_admin,+net_bind_service",
  "--ambient-caps=+net_admin,+net_bind_service",
];

/** Options of {@linkcode startAgent}. */
export interface StartAgentOptions {
  /**
   * Config keys (see `lib/config/schema.ts`), written to a file and passed as `--config`.
   * Unless given, `stateDir` and `controlSocket` point into the agent's temp dir and
   * `metricsListen`/`tunnelListen` use port 0 on loopback.
   */
  readonly config?: Readonly<Record<string, unknown>>;
  /** Run the agent inside this namespace (`ip netns exec`). */
  readonly netns?: TempNetns;
  /** More CLI arguments after `run --config FILE` (flags override the file). */
  readonly extraArgs?: readonly string[];
  /**
   * Reuse this directory (e.g. to restart on the same state); it is then not removed.
   * @default a new temp dir, removed on dispose
   */
  readonly dir?: string;
  /** Failure bound for readiness (emulated ARM64 is ~10× slower). @default 60000 */
  readonly readyTimeoutMs?: number;
  /** Command prefix, e.g. {@linkcode UNIT_CAPABILITIES}; runs inside `netns` when both are given. */
  readonly prefix?: readonly string[];
  /** The entry point to run; tests of this helper pass a stand-in. @default MAIN_TS */
  readonly main?: string;
  /** Extra environment variables for the agent. */
  readonly env?: Readonly<Record<string, string>>;
}

/** A running agent started by {@linkcode startAgent}. */
export interface AgentProcess extends AsyncDisposable {
  readonly pid: number;
  /** The agent's working directory (config, state, runtime). */
  readonly dir: string;
  readonly configPath: string;
  /** The control socket (`controlSocket`). */
  readonly socketPath: string;
  readonly stateDir: string;
  /** `host:port` of the metrics server, when the agent logged `msg="metrics listening"`. */
  readonly metricsAddr: string | undefined;
  /** The permission flags the agent was started with. */
  readonly flags: readonly string[];
  /** Resolves with the exit status whenever the process ends. */
  readonly exited: Promise<Deno.CommandStatus>;
  /** Sends `signal` and resolves with the exit code (SIGKILL after `timeoutMs`, then throws). */
  stop(signal?: Deno.Signal, timeoutMs?: number): Promise<number>;
  /** SIGKILL, as a crash or power loss would, and waits for the exit. */
  kill(): Promise<void>;
  /** Everything the agent wrote so far (stderr and stdout, interleaved by arrival). */
  logs(): string;
  /**
   * Resolves with the first log line matching `pattern`, among lines already seen too, from line
   * `after` on (see {@linkcode lineCount}).
   */
  waitForLog(pattern: RegExp, timeoutMs?: number, after?: number): Promise<string>;
  /** How many log lines the agent wrote so far (for `waitForLog`'s `after`). */
  lineCount(): number;
}

const READY = /msg="agent ready"|"msg":"agent ready"/;
const METRICS = /msg="metrics listening".*\baddr=(\S+)|"msg":"metrics listening".*"addr":"([^"]+)"/;

/** Error thrown when the agent exits or stalls before it is ready. */
export class AgentStartError extends Error {
  override name = "AgentStartError";
}

/**
 * Writes `config` to a temp dir, spawns `deno run <permissionFlags> main.ts run --config FILE`
 * (inside `netns` when given) and resolves once the agent logs that it is ready.
 * @throws {AgentStartError} when the agent exits before ready or the bound passes; its message
 *   includes the agent's output
 */
export async function startAgent(options: StartAgentOptions = {}): Promise<AgentProcess> {
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? await Deno.makeTempDir({ prefix: "em-agent-" });
  const config: Record<string, unknown> = {
    stateDir: join(dir, "state"),
    controlSocket: join(dir, "run", "edgemesh.sock"),
    metricsListen: "127.0.0.1:0",
    tunnelListen: "127.0.0.1:0",
    ...options.config,
  };
  const socketPath = String(config.controlSocket);
  const stateDir = String(config.stateDir);
  const configPath = join(dir, "edgemesh.json");
  await Deno.writeTextFile(configPath, JSON.stringify(config, null, 2) + "\n");
  const flags = permissionFlags({
    stateDir,
    runtimeDir: dirname(socketPath),
    resolvConf: typeof config.resolvConf === "string" ? config.resolvConf : undefined,
  });
  const argv = [
    ...(options.prefix ?? []),
    Deno.execPath(),
    ...denoRunArgs(
      flags,
      ["run", "--config", configPath, ...(options.extraArgs ?? [])],
      options.main,
    ),
  ];
  const spawnOptions: Deno.CommandOptions = {
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...options.env },
  };
  const child = options.netns
    ? options.netns.spawn(argv, spawnOptions)
    : new Deno.Command(argv[0]!, { ...spawnOptions, args: argv.slice(1) }).spawn();

  let output = "";
  const lines: string[] = [];
  const waiters = new Set<{ pattern: RegExp; resolve: (line: string) => void }>();
  const onLine = (line: string) => {
    lines.push(line);
    for (const w of waiters) {
      if (w.pattern.test(line)) {
        waiters.delete(w);
        w.resolve(line);
      }
    }
  };
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    let partial = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      output += chunk;
      partial += chunk;
      const parts = partial.split("\n");
      partial = parts.pop() ?? "";
      for (const l of parts) onLine(l);
    }
    if (partial) onLine(partial);
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  const exited = child.status.then(async (status) => {
    await pumps;
    return status;
  });
  let running = true;
  exited.then(() => running = false);

  const waitForLog = (pattern: RegExp, timeoutMs = 60_000, after = 0): Promise<string> => {
    const seen = lines.slice(after).find((l) => pattern.test(l));
    if (seen !== undefined) return Promise.resolve(seen);
    const { promise, resolve, reject } = Promise.withResolvers<string>();
    const w = { pattern, resolve };
    waiters.add(w);
    const timer = setTimeout(() => {
      waiters.delete(w);
      reject(new AgentStartError(`No log line matching ${pattern} within ${timeoutMs} ms`));
    }, timeoutMs);
    exited.then((s) => {
      if (!waiters.has(w)) return;
      waiters.delete(w);
      reject(new AgentStartError(`Agent exited with code ${s.code} before logging ${pattern}`));
    });
    return promise.finally(() => clearTimeout(timer));
  };

  const stop = async (signal: Deno.Signal = "SIGTERM", timeoutMs = 20_000): Promise<number> => {
    if (running) {
      try {
        child.kill(signal);
      } catch {
        // Already gone between the check and the kill.
      }
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const bound = new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), timeoutMs));
    const result = await Promise.race([exited, bound]);
    clearTimeout(timer);
    if (result === "timeout") {
      child.kill("SIGKILL");
      await exited;
      throw new AgentStartError(
        `Agent did not exit within ${timeoutMs} ms of ${signal}; killed it. Output:\n${output}`,
      );
    }
    return result.code;
  };

  const agent: AgentProcess = {
    pid: child.pid,
    dir,
    configPath,
    socketPath,
    stateDir,
    get metricsAddr() {
      const m = lines.map((l) => METRICS.exec(l)).find((x) => x);
      return m ? (m[1] ?? m[2]) : undefined;
    },
    flags,
    exited,
    stop,
    async kill() {
      if (running) child.kill("SIGKILL");
      await exited;
    },
    logs: () => output,
    waitForLog,
    lineCount: () => lines.length,
    async [Symbol.asyncDispose]() {
      try {
        if (running) await stop("SIGTERM").catch(() => {});
        await exited;
      } finally {
        if (ownDir) await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    },
  };

  try {
    await waitForLog(READY, options.readyTimeoutMs ?? 60_000);
  } catch (err) {
    await agent[Symbol.asyncDispose]();
    throw new AgentStartError(
      `${(err as Error).message}\nCommand: ${argv.join(" ")}\nOutput:\n${output}`,
      { cause: err },
    );
  }
  return agent;
}
