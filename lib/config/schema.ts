// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The agent's configuration: the {@linkcode Config} type and its documented defaults.
 *
 * Every key here is a documented contract (README "Configuration"); rename none of them.
 * Parsing and validation live in `parse.ts` (the checks of single values in `checks.ts`);
 * reading files, env and flags in `load.ts`.
 * @module
 */
import type { LbStrategy } from "../registry/model.ts";
import type { LogFormat, LogLevel } from "../log/mod.ts";

/** How `edge0` is created: `auto` tries `dummy`, then falls back to `bridge` with a warning. */
export type DeviceType = "auto" | "dummy" | "bridge";

/** TLS files for the inter-node tunnel (PEM). */
export interface TunnelTlsConfig {
  readonly certFile: string;
  readonly keyFile: string;
  /** CA bundle that peers' certificates must chain to. */
  readonly caFile: string;
}

/** The validated, frozen agent configuration. */
export interface Config {
  /** This node's name; endpoints with another `nodeName` are remote. @default hostname */
  readonly nodeName: string;
  /** CIDR VIPs are allocated from; its first address is reserved for DNS. @default "9.251.0.0/16" */
  readonly subnet: string;
  /** Name of the virtual device holding the VIPs. @default "edge0" */
  readonly device: string;
  /** @default "auto" */
  readonly deviceType: DeviceType;
  /** Leave the device (not our addresses) in place on exit. @default false */
  readonly keepDeviceOnExit: boolean;
  /** `host:port` addresses the DNS server listens on (UDP and TCP). @default ["<subnet first address>:53"] */
  readonly dnsListen: readonly string[];
  /** @default "cluster.local" */
  readonly clusterDomain: string;
  /** Namespace of bare service names (`nginx` → `nginx.default`). @default "default" */
  readonly defaultNamespace: string;
  /** TTL of our DNS answers, seconds (0–3600). @default 5 */
  readonly dnsTtl: number;
  /** Upstream resolvers `host[:port]`; empty → `/etc/resolv.conf` nameservers (ours excluded). @default [] */
  readonly upstreams: readonly string[];
  /** Client networks allowed to use forwarding (CIDRs); "node" = the node's own addresses. @default loopback, node, private ranges */
  readonly dnsAllowFrom: readonly string[];
  /**
   * Receive and send DNS over UDP in batches (`recvmmsg`/`sendmmsg` through FFI on the C
   * library; Linux). Falls back to Deno's UDP sockets when FFI is not allowed. @default true
   */
  readonly dnsUdpBatching: boolean;
  /** Put our nameserver first in `/etc/resolv.conf` and restore it on exit. @default false */
  readonly manageResolvConf: boolean;
  /** @default "/etc/resolv.conf" */
  readonly resolvConf: string;
  /** Unix socket for KubeEdge messages and `edgemesh ctl`. @default "/run/edgemesh/edgemesh.sock" */
  readonly controlSocket: string;
  /** Directory of persisted registry and VIP state. @default "/var/lib/edgemesh" */
  readonly stateDir: string;
  /** @default "RoundRobin" */
  readonly lbStrategy: LbStrategy;
  /** Backend dial timeout, ms. @default 2000 */
  readonly dialTimeoutMs: number;
  /** Dial attempts per connection, each to a different endpoint while others exist. @default 3 */
  readonly dialAttempts: number;
  /** How long an endpoint whose dial failed is skipped (passive health), ms. @default 10000 */
  readonly ejectCooldownMs: number;
  /** Grace period for open connections of a deleted service, ms. @default 10000 */
  readonly drainGraceMs: number;
  /**
   * Threads the proxy accepts and relays on (1–64), or `"auto"`: one per CPU the process may
   * use, at most 4, the extra ones started once the proxy keeps the main thread busy. Threads
   * share the listeners through `SO_REUSEPORT`. @default "auto"
   */
  readonly proxyThreads: number | "auto";
  /**
   * The proxy's sockets: `"epoll"` (non-blocking sockets on an epoll loop through FFI on the C
   * library, Linux), `"deno"` (Deno's own sockets), or `"auto"`: `epoll` where FFI on the C
   * library is allowed, else `deno`. @default "auto"
   */
  readonly proxyEngine: "auto" | "epoll" | "deno";
  /** Inter-node tunnel listen address. @default "0.0.0.0:40001" */
  readonly tunnelListen: string;
  /** Use the tunnel for remote endpoints; false dials them directly (flat networks). @default true */
  readonly tunnel: boolean;
  /** Pre-shared cluster key (≥ 32 bytes); null → tunnel off. @default null */
  readonly tunnelKeyFile: string | null;
  /**
   * Further cluster keys (≥ 32 bytes each) accepted on incoming streams besides
   * `tunnelKeyFile`, never used to sign: key rotation. @default []
   */
  readonly tunnelAcceptKeyFiles: readonly string[];
  /** @default null (plain HTTP/2, with a loud warning) */
  readonly tunnelTLS: TunnelTlsConfig | null;
  /** Static peers `nodeName → host:port`, merged with Node objects. @default {} */
  readonly peers: Readonly<Record<string, string>>;
  /** Metrics and health listen address; "" disables. @default "127.0.0.1:9560" */
  readonly metricsListen: string;
  /** @default "info" */
  readonly logLevel: LogLevel;
  /** @default "logfmt" */
  readonly logFormat: LogFormat;
}
