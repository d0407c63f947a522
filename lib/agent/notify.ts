// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The agent's side of systemd's readiness protocol (`sd_notify(3)`): `READY=1` once start-up is
 * finished (the moment the agent logs `agent ready`), `STOPPING=1` as soon as the stop signal
 * aborts, `WATCHDOG=1` every half `WATCHDOG_USEC` from the main event loop (a loop that hangs
 * stops pinging, and systemd restarts the agent), `EXTEND_TIMEOUT_USEC=` while a long start-up
 * makes progress, and a short `STATUS=` at each of those steps.
 *
 * The agent sees one narrow interface, {@linkcode ServiceNotifier}; `main.ts` injects the real
 * one ({@linkcode systemdNotifier}), tests a recording fake, and without `NOTIFY_SOCKET` it does
 * nothing at all.
 * @module
 */
import type { Config } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Exec } from "../netdev/mod.ts";
import {
  type Libc,
  libc as loadLibc,
  NOTIFY_ENV,
  notifyMessage,
  notifyPlan,
  NotifySocket,
  type NotifyState,
} from "../sys/mod.ts";
import type { IntervalTimers } from "./heap_trim.ts";

/** What the agent tells its service manager. */
export interface ServiceNotifier {
  /** Sends one notification. Never throws: a failure is the notifier's to report. */
  notify(state: NotifyState): void;
  /** How often to send `WATCHDOG=1`, ms; null when no watchdog is on. */
  readonly watchdogMs: number | null;
}

/** A notifier that sends nothing (no service manager listening; tests). */
export const NO_NOTIFIER: ServiceNotifier = { notify() {}, watchdogMs: null };

/** The process environment as {@linkcode systemdNotifier} uses it (`Deno.env`, a `Map`). */
export interface NotifyEnv {
  get(name: string): string | undefined;
  delete(name: string): unknown;
}

/** Options of {@linkcode systemdNotifier}. */
export interface SystemdNotifierOptions {
  readonly log: Logger;
  /**
   * Where `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` come from; they are deleted after
   * reading, so the `ip` processes the agent runs do not inherit them (libsystemd's
   * `unset_environment`). A variable Deno may not read counts as unset.
   * @default Deno.env
   */
  readonly env?: NotifyEnv;
  /** This process's id, for `WATCHDOG_PID`. @default Deno.pid */
  readonly pid?: number;
  /** The C library (the socket is made through FFI). @default libc() from lib/sys */
  readonly libc?: Libc | null;
  /** Timers for sending again into a full queue (tests drive fake ones). @default globalThis */
  readonly timers?: RetryTimers;
}

/**
 * The notifier `sd_notify(3)` describes, from the environment systemd sets for a
 * `Type=notify` unit. Without `NOTIFY_SOCKET` it sends nothing and logs nothing. With an
 * unusable `NOTIFY_SOCKET`, or without FFI on the C library to send with, it warns once that
 * readiness cannot be reported, and why, and sends nothing; the agent runs on (under
 * `Type=notify` systemd then stops it at `TimeoutStartSec=`, which is what the warning
 * explains). A failed send warns once, with the error; later failures are debug lines. While
 * systemd's queue is full, messages wait and are sent again (a watchdog ping is dropped).
 * `[Symbol.dispose]` closes the socket and drops what still waits.
 */
export function systemdNotifier(options: SystemdNotifierOptions): ServiceNotifier & Disposable {
  const { log } = options;
  const env = options.env ?? Deno.env;
  const vars = new Map<string, string>();
  for (const name of NOTIFY_ENV) {
    const value = readEnv(env, name);
    if (value === undefined) continue;
    vars.set(name, value);
    try {
      env.delete(name);
    } catch {
      // not allowed to change it: children inherit it, harmlessly (NotifyAccess=main)
    }
  }
  const plan = notifyPlan((name) => vars.get(name), options.pid ?? Deno.pid);
  const quiet = { ...NO_NOTIFIER, [Symbol.dispose]() {} };
  const cannot = (why: string, fields: Record<string, unknown> = {}) => {
    log.warn(`Readiness cannot be reported to systemd: ${why}`, fields);
    return quiet;
  };
  if (plan.address === null) {
    return plan.problems.length === 0 ? quiet : cannot(plan.problems.join("; "));
  }
  const c = options.libc === undefined ? loadLibc() : options.libc;
  if (c === null) {
    return cannot(
      "NOTIFY_SOCKET is set, but sending to it needs FFI on the C library (--allow-ffi, " +
        "see scripts/permissions.ts), which this process does not have",
      { notifySocket: vars.get("NOTIFY_SOCKET") },
    );
  }
  if (plan.problems.length > 0) log.warn(`systemd watchdog off: ${plan.problems.join("; ")}`);
  let socket: NotifySocket;
  try {
    socket = NotifySocket.open(c, plan.address);
  } catch (error) {
    return cannot("no socket to send on", { notifySocket: vars.get("NOTIFY_SOCKET"), error });
  }
  const where = vars.get("NOTIFY_SOCKET");
  log.debug("notifying systemd", { notifySocket: where, watchdogMs: plan.watchdogMs ?? "off" });
  const out = deliver(socket, log, options.timers ?? globalThis, where);
  return {
    watchdogMs: plan.watchdogMs,
    notify: (state) => out.send(state),
    [Symbol.dispose]: () => out.close(),
  };
}

/** The timer functions the notifier retries with: `globalThis`, or a fake in tests. */
export interface RetryTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

/** First wait before sending into a full queue again, ms; it doubles up to the second. */
const RETRY_FIRST_MS = 20;
const RETRY_MAX_MS = 1_000;
/** How long systemd may leave its queue full before that is a warning, ms. */
const STALL_WARN_MS = 10_000;

/**
 * Sends notifications in order. A full queue (systemd has not read the last
 * `net.unix.max_dgram_qlen` datagrams: 10 by default, 512 with systemd's sysctl defaults) keeps
 * the message and sends it again on a timer, so `READY=1` and `STOPPING=1` are never lost to a
 * busy PID 1; a watchdog ping is dropped instead (the next one follows in half the period). Any
 * other error drops the message: warned once, then debug lines.
 */
function deliver(socket: NotifySocket, log: Logger, timers: RetryTimers, where?: string) {
  const pending: string[] = [];
  let timer: unknown = undefined;
  let delay = RETRY_FIRST_MS;
  let waited = 0;
  let failed = false;
  let stallWarned = false;
  const trySend = (message: string): boolean => {
    try {
      return socket.send(message);
    } catch (error) {
      const fields = { notifySocket: where, message, error };
      if (failed) log.debug("cannot notify systemd", fields);
      else log.warn("Cannot notify systemd (further failures are logged at debug)", fields);
      failed = true;
      return true; // dropped: sending again would fail the same way
    }
  };
  const retry = () => {
    timer = timers.setTimeout(flush, delay);
    waited += delay;
    delay = Math.min(RETRY_MAX_MS, delay * 2);
  };
  const flush = () => {
    timer = undefined;
    while (pending.length > 0 && trySend(pending[0]!)) pending.shift();
    if (pending.length === 0) {
      delay = RETRY_FIRST_MS;
      waited = 0;
      return;
    }
    if (waited >= STALL_WARN_MS && !stallWarned) {
      stallWarned = true;
      log.warn("systemd has not read notifications for 10 s (its queue is full); still retrying", {
        notifySocket: where,
        message: pending[0],
      });
    }
    retry();
  };
  return {
    send(state: NotifyState): void {
      const message = notifyMessage(state);
      if (pending.length === 0 && trySend(message)) return;
      const ping = state.watchdog && !state.ready && !state.stopping && state.status === undefined;
      if (ping) {
        return log.debug("watchdog ping dropped: systemd's queue is full", { notifySocket: where });
      }
      pending.push(message);
      if (timer !== undefined) return;
      log.debug("systemd's notification queue is full; sending again shortly", { message });
      retry();
    },
    close(): void {
      if (timer !== undefined) timers.clearTimeout(timer);
      timer = undefined;
      pending.length = 0;
      socket.close();
    },
  };
}

function readEnv(env: NotifyEnv, name: string): string | undefined {
  try {
    return env.get(name);
  } catch {
    return undefined; // not in --allow-env (an older permission set): as if unset
  }
}

/** How often a start-up that made progress extends systemd's start timeout, ms. */
export const EXTEND_EVERY_MS = 10_000;
/** How long each extension lasts, ms (`EXTEND_TIMEOUT_USEC=30000000`). */
export const EXTEND_BY_MS = 30_000;

/** Options of {@linkcode startNotify}. */
export interface StartNotifyOptions {
  readonly notifier: ServiceNotifier;
  /** The agent's stop signal: its abort sends `STOPPING=1` and ends the watchdog pings. */
  readonly signal: AbortSignal;
  /**
   * The interval timers of the watchdog and of the start-up extensions, one at a time (tests
   * drive a fake one). @default globalThis
   */
  readonly timers?: IntervalTimers;
}

/** The notifications of one agent run; `close()` ends them (the agent's last cleanup step). */
export interface AgentNotify {
  readonly name: string;
  /**
   * Start-up made progress (an `ip` command finished, a step began; `step` names the step, for
   * `STATUS=Starting: <step>`). Every {@linkcode EXTEND_EVERY_MS} until ready, a start-up that
   * made progress since the last time extends systemd's start timeout by
   * {@linkcode EXTEND_BY_MS}; one that made none does not, so a start that hangs still meets
   * `TimeoutStartSec=`. Nothing once ready or stopping.
   */
  progress(step?: string): void;
  /** `READY=1` with `status`, then the watchdog pings; nothing once the agent is stopping. */
  ready(status: string): void;
  close(): void;
}

/**
 * Sends `STATUS=Starting` now, `STOPPING=1` when `signal` aborts, and `READY=1` and the
 * watchdog pings from {@linkcode AgentNotify.ready} on. The pings run on the timers of the
 * JavaScript event loop on purpose: when the loop hangs they stop, which is what systemd's
 * watchdog is there to notice.
 */
export function startNotify(options: StartNotifyOptions): AgentNotify {
  const { notifier, signal } = options;
  const timers = options.timers ?? globalThis;
  let pings: unknown = undefined;
  let extensions: unknown = undefined;
  let progressed = false;
  let step: string | null = null;
  const stopPings = () => {
    if (pings !== undefined) timers.clearInterval(pings);
    pings = undefined;
  };
  const stopExtensions = () => {
    if (extensions !== undefined) timers.clearInterval(extensions);
    extensions = undefined;
  };
  const extend = () => {
    if (!progressed) return; // stuck: let TimeoutStartSec= apply
    progressed = false;
    notifier.notify({
      extendTimeoutUsec: EXTEND_BY_MS * 1000,
      status: step === null ? "Starting" : `Starting: ${step}`,
    });
  };
  const onAbort = () => {
    stopPings();
    stopExtensions();
    notifier.notify({ stopping: true, status: "Stopping" });
  };
  signal.addEventListener("abort", onAbort, { once: true });
  if (!signal.aborted) {
    notifier.notify({ status: "Starting" });
    extensions = timers.setInterval(extend, EXTEND_EVERY_MS);
  }
  return {
    name: "systemd notify",
    progress(now) {
      if (extensions === undefined) return;
      progressed = true;
      if (now !== undefined) step = now;
    },
    ready(status) {
      if (signal.aborted) return;
      stopExtensions();
      notifier.notify({ ready: true, status });
      const every = notifier.watchdogMs;
      if (every !== null && pings === undefined) {
        pings = timers.setInterval(() => notifier.notify({ watchdog: true }), every);
      }
    },
    close() {
      signal.removeEventListener("abort", onAbort);
      stopPings();
      stopExtensions();
    },
  };
}

/** `exec` telling `onDone` each time a command has finished (start-up progress). */
export function progressExec(exec: Exec, onDone: () => void): Exec {
  return {
    run: (argv, options) => exec.run(argv, options).finally(onDone),
  };
}

/**
 * The `STATUS=` text once the agent is up: where it serves and where its readiness is, which
 * stay true while it runs (counts would be stale by the next change).
 */
export function readyStatus(
  config: Pick<Config, "device" | "dnsListen" | "metricsListen">,
): string {
  const parts = [`device ${config.device}`];
  if (config.dnsListen.length > 0) parts.push(`DNS ${config.dnsListen.join(" ")}`);
  if (config.metricsListen !== "") parts.push(`readiness http://${config.metricsListen}/readyz`);
  return `Running: ${parts.join(", ")}`;
}
