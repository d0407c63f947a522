// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The agent: opens the registry (persisted state first, so services are served on their old
 * VIPs before any sender reconnects), starts the modules that consume registry snapshots,
 * then the control socket, and tears everything down in reverse on the abort signal.
 * @module
 */
import type { Config } from "../config/mod.ts";
import { ControlServer } from "../control/mod.ts";
import type { Logger } from "../log/mod.ts";
import { MetricsRegistry } from "../metrics/mod.ts";
import { Registry } from "../registry/mod.ts";
import { VERSION } from "../cli/mod.ts";
import { type AgentComponent, Reconciler } from "./reconcile.ts";
import { buildStatus } from "./status.ts";

/** Options of {@linkcode runAgent}. */
export interface AgentOptions {
  readonly config: Config;
  readonly log: Logger;
  /** Aborting stops the agent; `runAgent` resolves once everything is closed. */
  readonly signal: AbortSignal;
  /** Shared metrics (rendered by the metrics server). @default a new registry */
  readonly metrics?: MetricsRegistry;
  /** Clock. @default {Date.now} */
  readonly now?: () => number;
  /** Called once the control socket accepts connections (tests, readiness). */
  readonly onReady?: () => void;
}

/**
 * Runs the agent until `signal` aborts.
 * @throws when start-up fails (state unreadable, control socket in use, …); everything
 *   started so far is closed first
 */
export async function runAgent(opts: AgentOptions): Promise<void> {
  const { config, log, signal } = opts;
  const now = opts.now ?? Date.now;
  const metrics = opts.metrics ?? new MetricsRegistry();
  const startedAt = now();
  /** Closers in start order; run in reverse. */
  const cleanup: { name: string; close: () => Promise<void> | void }[] = [];

  log.info("agent starting", {
    version: VERSION,
    node: config.nodeName,
    subnet: config.subnet,
    stateDir: config.stateDir,
  });
  try {
    if (signal.aborted) return;
    const registry = await Registry.open({
      stateDir: config.stateDir,
      subnet: config.subnet,
      log: log.with("registry"),
      metrics,
      now,
    });
    cleanup.push({ name: "registry", close: () => registry.close() });
    const rs = registry.status();
    log.info("registry loaded", { services: rs.services, nodes: rs.nodes, vips: rs.pool.used });

    // ── Modules ──────────────────────────────────────────────────────────────────────────
    // Each consumes whole snapshots (reconcile, don't react), updated in this order:
    //   1. netdev  (ensure edge0; reconcile VIP addresses — they must exist before binds)
    //   2. proxy   (listeners per VIP:port)
    //   3. dns     (zone from the snapshot; its own listeners on config.dnsListen)
    //   4. tunnel  (peers from Node objects + config.peers)
    // The metrics/health server (config.metricsListen) renders `metrics`.
    // Start each here, push it to `components`, and register its closer in `cleanup`.
    const components: AgentComponent[] = [];
    for (const c of components) cleanup.push({ name: c.name, close: () => c.close() });
    // ─────────────────────────────────────────────────────────────────────────────────────

    const reconciler = new Reconciler(components, log.with("reconcile"));
    cleanup.push({ name: "reconciler", close: () => reconciler.stop() });
    let lastSync: number | null = null;
    const unsubscribe = registry.subscribe((snapshot) => {
      lastSync = now();
      reconciler.push(snapshot);
    });
    cleanup.push({ name: "subscription", close: unsubscribe });
    reconciler.push(registry.snapshot());

    const server = await ControlServer.listen({
      path: config.controlSocket,
      target: registry,
      status: () =>
        buildStatus({
          config,
          version: VERSION,
          snapshot: registry.snapshot(),
          components,
          startedAt,
          lastSync,
        }),
      log: log.with("control"),
      metrics,
    });
    cleanup.push({ name: "control", close: () => server.close() });

    log.info("agent ready", { controlSocket: config.controlSocket });
    opts.onReady?.();
    await aborted(signal);
    log.info("agent stopping");
  } finally {
    for (const { name, close } of cleanup.reverse()) {
      try {
        await close();
      } catch (err) {
        log.error("cannot stop cleanly", { component: name, error: err });
      }
    }
  }
  log.info("agent stopped");
}

function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener("abort", () => resolve(), { once: true })
  );
}
