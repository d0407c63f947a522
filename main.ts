// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * edgemesh entry point: `deno run -A --unstable-net main.ts <command>` (or the compiled
 * binary). Parses the command line via `lib/cli`; SIGINT/SIGTERM stop `run` cleanly, SIGHUP
 * is ignored (`lib/cli/signals.ts`); `run` tells systemd when it is ready (`sd_notify(3)`,
 * `lib/agent/notify.ts`).
 * @module
 */
import { main, stopSignal } from "./lib/cli/mod.ts";
import { runAgent, systemdNotifier } from "./lib/agent/mod.ts";

if (import.meta.main) {
  const code = await main(Deno.args, {
    // Under systemd (NOTIFY_SOCKET set) the agent reports readiness: Type=notify in the unit.
    runAgent: async (opts) => {
      using notifier = systemdNotifier({ log: opts.log.with("systemd") });
      await runAgent({ ...opts, notifier });
    },
    stopSignal,
  });
  Deno.exit(code);
}
