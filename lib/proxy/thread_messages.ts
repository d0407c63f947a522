// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Messages between the main thread's {@linkcode ProxyThreads} and its proxy workers
 * (`worker.ts`). Everything here survives structured cloning (`postMessage`).
 * @module
 */
import type { LogFields, LogLevel } from "../log/mod.ts";
import type { FamilySnapshot } from "../metrics/mod.ts";
import type { LbStrategy, ServiceKey, Snapshot } from "../registry/model.ts";
import type { TunnelConfig } from "../tunnel/plan.ts";
import type { CursorSlot } from "./cursors.ts";
import type { ProxyEngineSetting } from "./engine.ts";
import type { ProxyLimits } from "./gate.ts";

/** What a worker needs to run a proxy like the main thread's (config keys of the same names). */
export interface WorkerSettings {
  readonly nodeName: string;
  readonly lbStrategy: LbStrategy;
  readonly dialTimeoutMs: number;
  readonly dialAttempts: number;
  readonly ejectCooldownMs: number;
  readonly drainGraceMs: number;
  /** Config `proxyEngine` (resolved per thread; every thread can load the C library alike). */
  readonly engine: ProxyEngineSetting;
  /** Lowest level the worker forwards to the main thread's logger. */
  readonly logLevel: LogLevel;
  /** Tunnel config: the worker dials peers itself when the tunnel is on; null: direct. */
  readonly tunnel: TunnelConfig | null;
  /** The connection cap and listener budget, shared with the other threads (./gate.ts). */
  readonly limits?: ProxyLimits;
}

/** Main thread → worker. */
export type ToWorker =
  | {
    readonly type: "init";
    readonly thread: number;
    readonly settings: WorkerSettings;
    readonly cells: SharedArrayBuffer;
  }
  | {
    readonly type: "update";
    readonly seq: number;
    /** The snapshot's number among the main thread's updates (echoed in `updated`). */
    readonly gen: number;
    readonly snapshot: Snapshot;
    readonly slots: readonly CursorSlot[];
  }
  /** A passive-health ejection: `key` skipped for `forMs` (a duration: clocks differ per thread). */
  | { readonly type: "eject"; readonly key: string; readonly forMs: number }
  | { readonly type: "stats"; readonly seq: number }
  /** Remove these services' series: every thread has retired them. */
  | { readonly type: "forget"; readonly services: readonly ServiceKey[] }
  | { readonly type: "close" };

/** Worker → main thread. */
export type FromWorker =
  | { readonly type: "ready" }
  | { readonly type: "failed"; readonly error: string }
  | {
    readonly type: "updated";
    readonly seq: number;
    readonly gen: number;
    readonly unbound: number;
    /** Services gone from the snapshot whose connections on this worker have not all ended. */
    readonly retiring: readonly ServiceKey[];
  }
  /** Services gone from the snapshot whose last connection on this worker has ended. */
  | { readonly type: "retired"; readonly services: readonly ServiceKey[] }
  /** A passive-health ejection: `key` skipped for `forMs` (a duration: clocks differ per thread). */
  | { readonly type: "eject"; readonly key: string; readonly forMs: number }
  | { readonly type: "stats"; readonly seq: number; readonly metrics: FamilySnapshot[] }
  | {
    readonly type: "log";
    readonly level: LogLevel;
    readonly msg: string;
    readonly fields?: LogFields;
  }
  | { readonly type: "closed" };
