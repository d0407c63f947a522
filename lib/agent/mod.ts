// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The agent: {@linkcode runAgent} wires the registry, the snapshot-driven modules and the
 * control socket together and runs until its signal aborts; {@linkcode systemdNotifier} tells
 * systemd when it is ready and stopping (`sd_notify(3)`).
 * @module
 */
export { type AgentOptions, runAgent } from "./agent.ts";
export {
  type AgentNotify,
  EXTEND_BY_MS,
  EXTEND_EVERY_MS,
  NO_NOTIFIER,
  type NotifyEnv,
  progressExec,
  readyStatus,
  type RetryTimers,
  type ServiceNotifier,
  startNotify,
  systemdNotifier,
  type SystemdNotifierOptions,
} from "./notify.ts";
export { type AgentComponent, Reconciler } from "./reconcile.ts";
export { buildStatus, type Status, type StatusInputs } from "./status.ts";
