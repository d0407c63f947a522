// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * `edgemesh run`: load the config (file, then flags), build the logger, run the agent.
 * @module
 */
import {
  type Config,
  ConfigError,
  type ConfigIssue,
  formatIssue,
  loadConfig,
} from "../config/mod.ts";
import { createLogger, type Logger } from "../log/mod.ts";
import { type FlagSpec, parseFlags } from "./args.ts";
import { HELP } from "./help.ts";
import type { CliIo } from "./io.ts";
import { failureText } from "./permission_error.ts";

export { NOT_CAPABLE_HINT } from "./permission_error.ts";

/** `--flag` → config key, for flags that override a config value. */
export const RUN_FLAG_KEYS: Readonly<Record<string, keyof Config>> = {
  "node-name": "nodeName",
  "subnet": "subnet",
  "device": "device",
  "device-type": "deviceType",
  "control-socket": "controlSocket",
  "state-dir": "stateDir",
  "dns-listen": "dnsListen",
  "cluster-domain": "clusterDomain",
  "lb-strategy": "lbStrategy",
  "metrics-listen": "metricsListen",
  "tunnel-listen": "tunnelListen",
  "log-level": "logLevel",
  "log-format": "logFormat",
};

const RUN_FLAGS: Record<string, FlagSpec> = {
  config: { type: "string", short: "c" },
  help: { type: "boolean", short: "h" },
  ...Object.fromEntries(
    Object.keys(RUN_FLAG_KEYS).map((f) => [f, { type: "string", multiple: f === "dns-listen" }]),
  ),
};

/** What `run` needs from its caller (main.ts): the agent and the stop signal. */
export interface RunDeps {
  /** Runs the agent until the signal aborts. */
  runAgent(opts: { config: Config; log: Logger; signal: AbortSignal }): Promise<void>;
  /** Creates the signal aborted by SIGINT/SIGTERM; `dispose` removes the handlers. */
  stopSignal(log: Logger): { signal: AbortSignal; dispose(): void };
  /** The default nodeName. */
  hostname?: string;
}

/** Runs `edgemesh run <args>`; returns the exit status. */
export async function run(args: readonly string[], io: CliIo, deps: RunDeps): Promise<number> {
  const { values } = parseFlags(args, RUN_FLAGS, "edgemesh run", 0);
  if (values.help) {
    io.stdout(HELP["edgemesh run"]!);
    return 0;
  }
  const overrides: Record<string, unknown> = {};
  for (const [flag, key] of Object.entries(RUN_FLAG_KEYS)) {
    if (values[flag] !== undefined) overrides[key] = values[flag];
  }
  let config: Config;
  try {
    config = await loadConfig({
      file: values.config as string | undefined,
      overrides,
      hostname: deps.hostname,
    });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const n = err.issues.length;
    io.stderr(
      `edgemesh: invalid ${configSource(err, overrides)} (${n} problem${n === 1 ? "" : "s"}):\n`,
    );
    for (const issue of err.issues) io.stderr(`  ${describeIssue(issue, overrides)}\n`);
    return 1;
  }
  const log = createLogger({ level: config.logLevel, format: config.logFormat });
  const { signal, dispose } = deps.stopSignal(log);
  try {
    await deps.runAgent({ config, log, signal });
  } catch (err) {
    // A denied permission in edgemesh's words, not Deno's advice to add a flag.
    io.stderr(failureText(err));
    return 1;
  } finally {
    dispose();
  }
  return 0;
}

/**
 * What the header of a configuration error blames: `config "FILE"` when every problem is in
 * the file, `config "FILE" and flags` when some came from flags, and `configuration` when
 * there is no file or only flags are wrong (each such line names its flag).
 */
export function configSource(
  err: ConfigError,
  overrides: Readonly<Record<string, unknown>>,
): string {
  if (err.file === undefined) return "configuration";
  const fromFlags = err.issues.filter((i) => issueFlag(i, overrides) !== undefined);
  if (fromFlags.length === 0) return `config "${err.file}"`;
  if (fromFlags.length === err.issues.length) return "configuration";
  return `config "${err.file}" and flags`;
}

/**
 * A config problem as the user made it: one from a flag names the flag and the key it sets
 * (`--subnet (subnet): "1.2.3.4/40" is not a CIDR`), others read as `formatIssue` makes them.
 */
export function describeIssue(
  issue: ConfigIssue,
  overrides: Readonly<Record<string, unknown>>,
): string {
  const flag = issueFlag(issue, overrides);
  return flag === undefined ? formatIssue(issue) : `--${flag} (${issue.path}): ${issue.message}`;
}

/** The flag (without `--`) whose value `issue` is about, or undefined when the file is to blame. */
function issueFlag(
  issue: ConfigIssue,
  overrides: Readonly<Record<string, unknown>>,
): string | undefined {
  const key = /^[A-Za-z]+/.exec(issue.path)?.[0];
  if (key === undefined || !(key in overrides)) return undefined;
  return Object.entries(RUN_FLAG_KEYS).find(([, k]) => k === key)?.[0];
}
