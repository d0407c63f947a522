// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Whether the tunnel runs: the start-up policy alone, without the tunnel's code, so the agent
 * can decide (and say why it is off) before importing `node:http2` and `node:crypto`.
 * @module
 */
import type { Config, TunnelTlsConfig } from "../config/schema.ts";
import type { Logger } from "../log/mod.ts";

/** The config keys the tunnel reads. */
export type TunnelConfig =
  & Pick<Config, "nodeName" | "tunnel" | "tunnelKeyFile" | "tunnelTLS" | "tunnelListen" | "peers">
  & Partial<Pick<Config, "tunnelAcceptKeyFiles">>;

/** Whether the tunnel runs, and why not. */
export type TunnelPlan =
  | { readonly mode: "off"; readonly reason: "disabled" | "no-key" }
  | { readonly mode: "on"; readonly keyFile: string; readonly tls: TunnelTlsConfig | null };

/**
 * The start-up policy: `tunnel: false` → off (flat network, remote endpoints dialled
 * directly); no `tunnelKeyFile` → off as well (an unauthenticated tunnel is never run);
 * otherwise on, with TLS when `tunnelTLS` is set.
 */
export function planTunnel(
  config: Pick<Config, "tunnel" | "tunnelKeyFile" | "tunnelTLS">,
): TunnelPlan {
  if (!config.tunnel) return { mode: "off", reason: "disabled" };
  if (config.tunnelKeyFile === null) return { mode: "off", reason: "no-key" };
  return { mode: "on", keyFile: config.tunnelKeyFile, tls: config.tunnelTLS };
}

/** Logs why the tunnel is off (once, at start). */
export function logTunnelOff(plan: TunnelPlan & { readonly mode: "off" }, log: Logger): void {
  log.info(
    plan.reason === "disabled"
      ? "tunnel disabled (tunnel: false): remote endpoints are dialled directly"
      : "tunnel off: no tunnelKeyFile configured, remote endpoints are dialled directly",
  );
}
