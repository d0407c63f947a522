// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * edgemesh entry point: `deno run -A --unstable-net main.ts <command>` (or the compiled
 * binary). Parses the command line via `lib/cli`; SIGINT/SIGTERM stop `run` cleanly.
 * @module
 */
import { main } from "./lib/cli/mod.ts";
import { runAgent } from "./lib/agent/mod.ts";
import type { Logger } from "./lib/log/mod.ts";

const STOP_SIGNALS: readonly Deno.Signal[] = ["SIGINT", "SIGTERM"];

/** An AbortSignal aborted by the first SIGINT/SIGTERM; a second one exits at once. */
function stopSignal(log: Logger): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const handlers = STOP_SIGNALS.map((sig) => {
    const handler = () => {
      if (controller.signal.aborted) {
        log.warn("second stop signal: exiting without cleanup", { signal: sig });
        Deno.exit(130);
      }
      log.info("stop signal received", { signal: sig });
      controller.abort(new Error(`received ${sig}`));
    };
    Deno.addSignalListener(sig, handler);
    return [sig, handler] as const;
  });
  return {
    signal: controller.signal,
    dispose: () => handlers.forEach(([sig, h]) => Deno.removeSignalListener(sig, h)),
  };
}

if (import.meta.main) {
  const code = await main(Deno.args, {
    runAgent,
    stopSignal,
  });
  Deno.exit(code);
}
