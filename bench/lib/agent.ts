// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Starting the edgemesh agent exactly as in production (`deno run <permissionFlags> main.ts run
 * --config FILE`), feeding it services over its control socket, and stopping it.
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { permissionFlags } from "../../scripts/permissions.ts";
import { buildMessage, ControlClient } from "../../lib/control/mod.ts";
import type { ChangeSpec } from "./k8s.ts";
import { type Proc, runCmd, spawnLogged } from "./proc.ts";

/** The repository root. */
export const ROOT: string = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const MAIN_TS = join(ROOT, "main.ts");
const DENO_JSON = join(ROOT, "deno.json");

/** The log line the agent prints once every component is up. */
export const READY_LINE = /msg="agent ready"|"msg":"agent ready"/;

/** Options of {@linkcode startAgent}. */
export interface AgentOptions {
  /** Label in logs and errors. */
  readonly name: string;
  /** Working directory: config, state, runtime dir and log go here. */
  readonly dir: string;
  /** Config keys (`lib/config/schema.ts`); state and socket paths are filled in. */
  readonly config: Readonly<Record<string, unknown>>;
  /** Run inside this network namespace (`ip netns exec`); omitted → the current one. */
  readonly netns?: string;
}

/** A running agent. */
export interface Agent {
  readonly name: string;
  readonly proc: Proc;
  readonly socketPath: string;
  readonly metricsListen: string;
  /** Sends changes over the control socket (pipelined); throws on the first error reply. */
  apply(changes: readonly ChangeSpec[]): Promise<void>;
  /**
   * VIPs of the services in `namespace` (all with `null`; only `name` when given), keyed
   * `<ns>/<name>`, via one control-socket query.
   */
  vips(namespace: string | null, name?: string): Promise<Map<string, string>>;
  /** SIGTERM and wait; resolves with the exit code and the milliseconds it took. */
  stop(): Promise<{ code: number; ms: number }>;
}

/** Whether `main.ts run` exists yet (the CLI answers `run --help` with its flags). */
export async function agentAvailable(deno: string): Promise<boolean> {
  try {
    await Deno.stat(MAIN_TS);
  } catch {
    return false;
  }
  const r = await runCmd([deno, "run", "-A", "--config", DENO_JSON, MAIN_TS, "run", "--help"], {
    timeoutMs: 60_000,
    cwd: ROOT,
  });
  // A stub main.ts exits 0 silently; the real CLI documents `--config` in its help.
  return r.code === 0 && (r.stdout + r.stderr).includes("--config");
}

/** Writes the config and spawns the agent; does not wait for readiness. */
export async function startAgent(deno: string, options: AgentOptions): Promise<Agent> {
  const stateDir = join(options.dir, "state");
  const runtimeDir = join(options.dir, "run");
  const socketPath = join(runtimeDir, "edgemesh.sock");
  await Deno.mkdir(runtimeDir, { recursive: true });
  const config: Record<string, unknown> = {
    stateDir,
    controlSocket: socketPath,
    ...options.config,
    // BENCH_AGENT_CONFIG: JSON merged into every agent's config, to measure a setting (e.g.
    // '{"proxyThreads":1}'); the report then describes that configuration, not the default.
    ...JSON.parse(Deno.env.get("BENCH_AGENT_CONFIG") || "{}"),
  };
  const configPath = join(options.dir, "edgemesh.json");
  await Deno.writeTextFile(configPath, JSON.stringify(config, null, 2) + "\n");
  const flags = permissionFlags({
    stateDir,
    runtimeDir,
    resolvConf: typeof config.resolvConf === "string" ? config.resolvConf : undefined,
  });
  const argv = [
    ...(options.netns === undefined ? [] : ["ip", "netns", "exec", options.netns]),
    deno,
    "run",
    "--no-prompt",
    "--config",
    DENO_JSON,
    ...flags,
    // BENCH_AGENT_DENO_FLAGS: extra `deno run` flags for the agent, to diagnose a run (e.g.
    // "--v8-flags=--trace-gc"; the agent's log then has the output).
    ...(Deno.env.get("BENCH_AGENT_DENO_FLAGS") ?? "").split(" ").filter(Boolean),
    MAIN_TS,
    "run",
    "--config",
    configPath,
  ];
  const proc = spawnLogged(options.name, argv, join(options.dir, "agent.log"), { cwd: ROOT });
  return {
    name: options.name,
    proc,
    socketPath,
    metricsListen: String(config.metricsListen ?? "127.0.0.1:9560"),
    async apply(changes) {
      const client = await ControlClient.connect(socketPath);
      try {
        const replies = await Promise.all(
          changes.map((c) => client.send(buildMessage({ ...c, source: "edgemesh-bench" }))),
        );
        const bad = replies.findIndex((r) => !r.ok);
        if (bad >= 0) {
          throw new Error(
            `Agent "${options.name}" rejected ${changes[bad]?.resource}: ${replies[bad]?.error}`,
          );
        }
      } finally {
        await client.close();
      }
    },
    async vips(namespace, name) {
      const client = await ControlClient.connect(socketPath);
      try {
        const reply = await client.send(
          buildMessage({
            operation: "query",
            resource: `${namespace ?? "*"}/services/${name ?? "*"}`,
            source: "edgemesh-bench",
          }),
        );
        if (!reply.ok || !Array.isArray(reply.content)) {
          throw new Error(
            `Agent "${options.name}" answered the services query with ${
              JSON.stringify(reply).slice(0, 200)
            }`,
          );
        }
        const out = new Map<string, string>();
        for (
          const v of reply.content as { namespace: string; name: string; vip: string | null }[]
        ) {
          if (v.vip !== null) out.set(`${v.namespace}/${v.name}`, v.vip);
        }
        return out;
      } finally {
        await client.close();
      }
    },
    async stop() {
      const start = performance.now();
      const status = await proc.stop("SIGTERM", 10_000);
      return { code: status.code, ms: performance.now() - start };
    },
  };
}
