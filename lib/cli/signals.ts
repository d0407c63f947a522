// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * How `edgemesh run` reacts to signals. SIGINT and SIGTERM stop the agent cleanly (the device,
 * its addresses and the control socket are removed); a second one exits at once with
 * 128 + the signal number, as shells report it. SIGHUP, which would otherwise kill the process
 * without any cleanup (and which systemd's `Restart=on-failure` counts as a clean exit, so the
 * agent would stay down with its VIPs left on the device), is ignored with a warning: the
 * configuration is read only at start, so a restart applies a changed file.
 * @module
 */
import type { Logger } from "../log/mod.ts";

/** Signals that stop the agent, with their numbers (for the exit code of a forced stop). */
export const STOP_SIGNALS: Readonly<Partial<Record<Deno.Signal, number>>> = {
  SIGINT: 2,
  SIGTERM: 15,
};

/** The signal a reload request usually is; edgemesh has no reload. */
const IGNORED: Deno.Signal = "SIGHUP";

/** What {@linkcode stopSignal} needs besides the logger (tests stub the exit). */
export interface StopSignalOptions {
  /** Exits the process. @default Deno.exit */
  readonly exit?: (code: number) => void;
}

/**
 * An AbortSignal aborted by the first SIGINT/SIGTERM; a second one exits at once. SIGHUP is
 * ignored with a warning. `dispose` removes every handler.
 */
export function stopSignal(
  log: Logger,
  options: StopSignalOptions = {},
): { signal: AbortSignal; dispose(): void } {
  const exit = options.exit ?? Deno.exit;
  const controller = new AbortController();
  const handlers: [Deno.Signal, () => void][] = [];
  for (const [sig, num] of Object.entries(STOP_SIGNALS) as [Deno.Signal, number][]) {
    handlers.push([sig, () => {
      if (controller.signal.aborted) {
        log.warn("second stop signal: exiting without cleanup", { signal: sig });
        exit(128 + num);
        return;
      }
      log.info("stop signal received", { signal: sig });
      controller.abort(new Error(`received ${sig}`));
    }]);
  }
  handlers.push([IGNORED, () => {
    log.warn(
      "SIGHUP ignored: edgemesh reads its configuration only at start; restart it to apply " +
        "changes (systemctl restart edgemesh)",
      { signal: IGNORED },
    );
  }]);
  for (const [sig, h] of handlers) Deno.addSignalListener(sig, h);
  return {
    signal: controller.signal,
    dispose: () => handlers.forEach(([sig, h]) => Deno.removeSignalListener(sig, h)),
  };
}
