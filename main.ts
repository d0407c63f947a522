// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * edgemesh entry point: `deno run -A --unstable-net main.ts <command>` (or the compiled
 * binary). Parses the command line via `lib/cli`; SIGINT/SIGTERM stop `run` cleanly, SIGHUP
 * is ignored (`lib/cli/signals.ts`).
 * @module
 */
import { main, stopSignal } from "./lib/cli/mod.ts";
import { runAgent } from "./lib/agent/mod.ts";

if (import.meta.main) {
  const code = await main(Deno.args, {
    runAgent,
    stopSignal,
  });
  Deno.exit(code);
}
