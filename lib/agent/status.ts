// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Assembles `ctl status` from the config, the registry and each component's contribution.
 * @module
 */
import type { Config } from "../config/mod.ts";
import type { StatusInfo } from "../control/mod.ts";
import type { Snapshot, StateWriteError } from "../registry/mod.ts";
import { planTunnel } from "../tunnel/plan.ts";
import type { AgentComponent, ReconcileFailure } from "./reconcile.ts";

/** The agent status shown by `edgemesh ctl status` (unknown parts are left out). */
export type Status = StatusInfo;

/** Inputs of {@linkcode buildStatus}. */
export interface StatusInputs {
  readonly config: Config;
  readonly version: string;
  /** The commit the agent was built from, when known (`buildInfo()` in lib/cli). */
  readonly build?: StatusInfo["build"];
  readonly snapshot: Snapshot;
  readonly components: readonly AgentComponent[];
  /** Epoch ms the agent started. */
  readonly startedAt: number;
  /** Epoch ms of the last registry change since start, or null. */
  readonly lastSync: number | null;
  /**
   * Epoch ms of the last change request the control socket received since start (applied,
   * unchanged or refused), or null; absent when the caller does not track it.
   */
  readonly lastMessage?: number | null;
  /** Newest snapshot version every component was updated with; -1 before the first. */
  readonly reconciledVersion?: number;
  /** The registry's warning about state damaged at start (`Registry.loadWarning`). */
  readonly stateWarning?: string | null;
  /** Set while the registry cannot write its state files (`Registry.writeError`). */
  readonly stateWriteError?: StateWriteError | null;
  /** Service VIPs another interface of the node also holds (`node_vips.ts`). */
  readonly vipConflicts?: StatusInfo["vipConflicts"];
  /** Components whose update failed in the last reconcile pass. */
  readonly reconcileFailures?: readonly ReconcileFailure[];
}

/** Builds the status: registry counts, config-derived facts, then each component's part. */
export function buildStatus(inp: StatusInputs): Status {
  const { config, snapshot } = inp;
  const tunnelPlan = planTunnel(config);
  let endpoints = 0;
  for (const e of snapshot.services.values()) endpoints += e.endpoints.length;
  let status: Status = {
    node: config.nodeName,
    version: inp.version,
    ...(inp.build ? { build: inp.build } : {}),
    startedAt: new Date(inp.startedAt).toISOString(),
    counts: {
      services: snapshot.services.size,
      endpoints,
      vips: snapshot.vips.size,
      nodes: snapshot.nodes.size,
    },
    listeners: [`${config.controlSocket} (control)`],
    lastSync: inp.lastSync === null ? null : new Date(inp.lastSync).toISOString(),
    ...(inp.lastMessage !== undefined
      ? { lastMessage: inp.lastMessage === null ? null : new Date(inp.lastMessage).toISOString() }
      : {}),
    registryVersion: snapshot.version,
    ...(inp.reconciledVersion !== undefined ? { reconciledVersion: inp.reconciledVersion } : {}),
    ...(inp.reconcileFailures !== undefined ? { reconcileFailures: inp.reconcileFailures } : {}),
    ...(inp.stateWarning ? { stateWarning: inp.stateWarning } : {}),
    ...(inp.stateWriteError ? { stateWriteError: inp.stateWriteError } : {}),
    ...(inp.vipConflicts && inp.vipConflicts.length > 0 ? { vipConflicts: inp.vipConflicts } : {}),
    ...(config.dnsListen.length === 0
      ? { dns: { state: "off", detail: "dnsListen is empty" } }
      : {}),
    ...(tunnelPlan.mode === "off"
      ? {
        tunnel: {
          state: "off",
          detail: tunnelPlan.reason === "no-key"
            ? "no tunnelKeyFile"
            : "tunnel: false (direct dialing)",
        },
      }
      : {}),
  };
  for (const c of inp.components) {
    const part = c.status?.();
    if (!part) continue;
    status = {
      ...status,
      ...part,
      listeners: [...(status.listeners ?? []), ...(part.listeners ?? [])],
    };
  }
  return status;
}
