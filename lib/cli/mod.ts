// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The command line: `edgemesh run | ctl | version`. {@linkcode main} returns the exit status
 * (0 ok, 1 runtime failure, 2 usage error) and never exits the process itself.
 * @module
 */
import { ctl } from "./ctl.ts";
import { HELP } from "./help.ts";
import { type CliIo, denoIo, UsageError } from "./io.ts";
import { failureText } from "./permission_error.ts";
import { run, type RunDeps } from "./run.ts";
import { buildInfo, versionLine } from "./build_info.ts";

export { type CliIo, denoIo, UsageError } from "./io.ts";
export { RUN_FLAG_KEYS, type RunDeps } from "./run.ts";
export { STOP_SIGNALS, stopSignal, type StopSignalOptions } from "./signals.ts";
export { SOCKET_ENV } from "./ctl.ts";
export { VERSION } from "./version.ts";
export {
  type BuildInfo,
  buildInfo,
  commitOrigin,
  type CommitSource,
  findBuildInfo,
  versionLine,
} from "./build_info.ts";
export {
  formatEndpoints,
  formatPorts,
  formatServiceTable,
  formatStatus,
  formatVip,
} from "./format.ts";
export { type ManifestItem, type ManifestObject, parseManifests } from "./manifest.ts";

/** Runs the CLI with `args` (without the program name); resolves with the exit status. */
export async function main(
  args: readonly string[],
  deps: RunDeps,
  io: CliIo = denoIo,
): Promise<number> {
  try {
    const [command, ...rest] = args;
    switch (command) {
      case "run":
        return await run(rest, io, deps);
      case "ctl":
        return await ctl(rest, io);
      case "version":
      case "--version":
        if (command === "version" && rest.some((a) => a === "-h" || a === "--help")) {
          io.stdout(HELP["edgemesh version"]!);
          return 0;
        }
        if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`, "edgemesh");
        io.stdout(versionLine(buildInfo(), Deno.version.deno));
        return 0;
      case "help":
      case "-h":
      case "--help":
        io.stdout(HELP["edgemesh"]!);
        return 0;
      case undefined:
        throw new UsageError("missing command (run, ctl, version)", "edgemesh");
      default:
        if (command.startsWith("-")) throw new UsageError(`unknown flag ${command}`, "edgemesh");
        throw new UsageError(`unknown command ${JSON.stringify(command)}`, "edgemesh");
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`edgemesh: ${err.message} (see ${err.helpCommand} --help)\n`);
      return 2;
    }
    io.stderr(failureText(err));
    return 1;
  }
}
