// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The tunnel's Prometheus families, registered once per registry and shared by the server
 * and the dialer (registration is idempotent).
 * @module
 */
import { type Counter, type Gauge, MetricsRegistry } from "../metrics/mod.ts";

/** Handles on the tunnel metric families. */
export interface TunnelMetrics {
  /** `{direction="out|in", result}`: streams opened by us / received from peers. */
  readonly streams: Counter;
  /** `{direction}`: streams currently open. */
  readonly active: Gauge;
  readonly authFailures: Counter;
  /** `{reason}`: refusals sent (server) — see `x-edgemesh-refusal`. */
  readonly refusals: Counter;
  /** `{peer}`: 1 when the peer's last dial or probe reached it; 0 while backed off or not reached yet. */
  readonly peerUp: Gauge;
  /** `{peer}`: sessions destroyed because the peer did not answer a heartbeat (hung agent). */
  readonly heartbeatFailures: Counter;
  /** `{peer}`: sessions destroyed because their source address left this node (`source_watch.ts`). */
  readonly sourceLost: Counter;
  /**
   * `{peer}`: HTTP/2 connections (sessions) the dialer holds to the peer — more than one while
   * its streams exceed what the peer allows on one (summed over the proxy threads).
   */
  readonly peerSessions: Gauge;
  /** `{direction="out|in"}`: bytes this node sent into / received from tunnels. */
  readonly bytes: Counter;
  /** Times the server behind the tunnel's front stopped accepting and had to be restarted. */
  readonly serverStops: Counter;
  /** 1 while the tunnel port serves new connections, 0 while its server is being restarted. */
  readonly serverUp: Gauge;
  /** End of validity of the certificate the tunnel serves, seconds since the epoch (TLS only). */
  readonly certificateExpiry: Gauge;
}

/** Registers (or finds) the families; a private registry when none is given. */
export function tunnelMetrics(registry: MetricsRegistry = new MetricsRegistry()): TunnelMetrics {
  return {
    streams: registry.counter(
      "edgemesh_tunnel_streams_total",
      "Tunnel streams by direction (out: opened by this node, in: accepted from peers) and result.",
    ),
    active: registry.gauge(
      "edgemesh_tunnel_streams_active",
      "Tunnel streams currently open, by direction.",
    ),
    authFailures: registry.counter(
      "edgemesh_tunnel_auth_failures_total",
      "Tunnel requests whose cluster-key proof failed (bad MAC, stale, replayed, malformed).",
    ),
    refusals: registry.counter(
      "edgemesh_tunnel_refusals_total",
      "Tunnel streams this node refused, by reason.",
    ),
    peerUp: registry.gauge(
      "edgemesh_tunnel_peer_up",
      "Whether the peer's tunnel answered the last dial or probe (1), or is backed off or not reached yet (0).",
    ),
    heartbeatFailures: registry.counter(
      "edgemesh_tunnel_heartbeat_failures_total",
      "Peer connections closed because the peer did not answer a heartbeat in time (its agent hung), by peer.",
    ),
    sourceLost: registry.counter(
      "edgemesh_tunnel_source_lost_total",
      "Peer connections closed because their source address left this node (a lease moved, an uplink went away), by peer.",
    ),
    peerSessions: registry.gauge(
      "edgemesh_tunnel_peer_sessions",
      "HTTP/2 connections open to the peer's tunnel, by peer: more than one while its streams exceed the peer's per-connection stream limit.",
    ),
    bytes: registry.counter(
      "edgemesh_tunnel_bytes_total",
      "Payload bytes sent into (out) and received from (in) tunnel streams.",
    ),
    serverStops: registry.counter(
      "edgemesh_tunnel_server_stops_total",
      "Times the tunnel's HTTP/2 server stopped accepting connections (out of descriptors) and was restarted.",
    ),
    serverUp: registry.gauge(
      "edgemesh_tunnel_server_up",
      "Whether the tunnel port serves new connections (1), or its server is being restarted (0).",
    ),
    certificateExpiry: registry.gauge(
      "edgemesh_tunnel_tls_certificate_expiry_timestamp_seconds",
      "End of validity (notAfter) of the TLS certificate the tunnel serves, seconds since the epoch.",
    ),
  };
}
