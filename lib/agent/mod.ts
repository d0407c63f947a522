// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The agent: {@linkcode runAgent} wires the registry, the snapshot-driven modules and the
 * control socket together and runs until its signal aborts.
 * @module
 */
export { type AgentOptions, runAgent } from "./agent.ts";
export { type AgentComponent, Reconciler } from "./reconcile.ts";
export { buildStatus, type Status, type StatusInputs } from "./status.ts";
