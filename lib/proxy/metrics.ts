// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The proxy's Prometheus families (`edgemesh_proxy_*`), registered by `Proxy` on the
 * registry of its options.
 * @module
 */
import type { Counter, Gauge, MetricsRegistry } from "../metrics/mod.ts";

/** Handles on the proxy metric families. */
export interface ProxyMetrics {
  readonly connections: Counter;
  readonly active: Gauge;
  readonly dialFailures: Counter;
  readonly bytes: Counter;
  readonly noEndpoints: Counter;
  readonly listenFailures: Counter;
  readonly listeners: Gauge;
}

/** Registers (or finds) the proxy's families on `m`. */
export function proxyMetrics(m: MetricsRegistry): ProxyMetrics {
  return {
    connections: m.counter(
      "edgemesh_proxy_connections_total",
      "Client connections accepted on service VIPs",
    ),
    active: m.gauge("edgemesh_proxy_connections_active", "Client connections open now"),
    dialFailures: m.counter(
      "edgemesh_proxy_dial_failures_total",
      "Failed dial attempts to service endpoints",
    ),
    bytes: m.counter(
      "edgemesh_proxy_bytes_total",
      "Bytes proxied; direction in = client to endpoint, out = endpoint to client",
    ),
    noEndpoints: m.counter(
      "edgemesh_proxy_no_endpoints_total",
      "Connections rejected (reset) at once because the service had no endpoint to use " +
        "(none ready or serving-terminating; none on this node with internalTrafficPolicy Local)",
    ),
    listenFailures: m.counter(
      "edgemesh_proxy_listen_failures_total",
      "Failed attempts to bind a VIP:port listener",
    ),
    listeners: m.gauge("edgemesh_proxy_listeners", "Bound VIP:port listeners"),
  };
}
