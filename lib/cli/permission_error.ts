// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Permission failures in edgemesh's words. Deno words a denied permission as advice to the
 * person who typed `deno run` (`Requires write access to "/x", run again with the
 * --allow-write flag`), which is wrong here: the agent runs under the fixed flags of
 * scripts/permissions.ts, which a compiled binary has built in and cannot be given more of.
 * @module
 */

/** Deno's text of a denied permission, with or without the resource it names. */
const DENO_ADVICE = /Requires (\w+) access(?: to (.+?))?, run again with the --allow-[\w-]+ flag/g;

/**
 * Said after a write the permission flags did not allow: the agent may write only the paths
 * it was started (or, compiled, built) for, so a config that moves `stateDir`, `controlSocket`
 * or `resolvConf` needs matching flags, not `--allow-write`.
 */
export const NOT_CAPABLE_HINT =
  "edgemesh: the agent may write only the paths its permission flags name; under deno run, " +
  "start it with the flags `deno run scripts/permissions.ts --state-dir DIR --runtime-dir DIR " +
  "--resolv-conf FILE` prints for your stateDir, controlSocket directory and resolvConf " +
  "(make run STATE_DIR=… RUNTIME_DIR=… RESOLV_CONF=…); a compiled binary allows only the paths " +
  "it was built with (by default /var/lib/edgemesh, /run/edgemesh and /etc/resolv.conf): keep " +
  "those, or rebuild it with matching paths\n";

/**
 * Said after the kernel refused a new process or thread (`EAGAIN`, os error 11, when spawning
 * `ip` or starting a thread): seen under a small task limit (`pids.max` 8 with
 * `proxyThreads: 4`), where the agent exited with only `Failed to spawn '/usr/sbin/ip':
 * Resource temporarily unavailable (os error 11)`, which names neither the limit nor the fix.
 */
export const TASK_LIMIT_HINT =
  "edgemesh: the system refused a new process or thread: the agent's task limit is probably " +
  "reached (systemd TasksMax=, the cgroup's pids.max, or ulimit -u); raise it: the agent " +
  "runs 7 tasks idle with one proxy thread, plus one per proxy worker thread and per `ip` " +
  "command it runs at once\n";

/**
 * Whether `text` is `EAGAIN` (os error 11). A failure of the whole start with it is the kernel
 * refusing a process or thread: sockets' `EAGAIN` is handled where it happens, while starting
 * a proxy worker under the limit failed with the bare `Resource temporarily unavailable (os
 * error 11)`.
 */
function isTaskLimit(text: string): boolean {
  return /\(os error 11\)/.test(text);
}

/** Whether `err`, or an error it wraps (`cause`), is Deno's `NotCapable`. */
export function isNotCapable(err: unknown): boolean {
  let e = err;
  for (let depth = 0; e instanceof Error && depth < 10; depth++) {
    if (e instanceof Deno.errors.NotCapable) return true;
    e = e.cause;
  }
  return false;
}

/**
 * `text` with Deno's permission advice replaced by what it means for edgemesh:
 * `Requires write access to "/x", run again with the --allow-write flag` →
 * `not permitted to write "/x" (not a path this edgemesh's permission flags allow)`; other
 * kinds → `not permitted: net access to "…" is not in this edgemesh's permission flags`. Text
 * without the advice is returned as it is.
 */
export function permissionText(text: string): string {
  return text.replace(
    DENO_ADVICE,
    (_, kind: string, target: string | undefined) =>
      kind === "write" && target !== undefined
        ? `not permitted to write ${target} (not a path this edgemesh's permission flags allow)`
        : `not permitted: ${kind} access${
          target === undefined ? "" : ` to ${target}`
        } is not in this edgemesh's permission flags`,
  );
}

/**
 * What the CLI prints for a failure `err` (lines ending in newlines, each starting
 * `edgemesh: `): its message, with a permission failure in edgemesh's words and, when a write
 * was refused, {@linkcode NOT_CAPABLE_HINT}; when a process or thread could not be started,
 * {@linkcode TASK_LIMIT_HINT}.
 */
export function failureText(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  if (!isNotCapable(err)) {
    return `edgemesh: ${text}\n${isTaskLimit(text) ? TASK_LIMIT_HINT : ""}`;
  }
  const said = permissionText(text);
  return `edgemesh: ${said}\n${said.includes("not permitted to write") ? NOT_CAPABLE_HINT : ""}`;
}
