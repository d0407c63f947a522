// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The documented default of every configuration key (see `README.md` in this folder).
 *
 * Two defaults depend on the host and the rest of the config and are filled in by
 * `parseConfig`: `nodeName` (the hostname) and `dnsListen` (the first host address of
 * `subnet`, port 53 — the address the original edgemesh reserved for its DNS server).
 * @module
 */
import type { Config } from "./schema.ts";

/** Defaults of every key that does not depend on the host or other keys. */
export const DEFAULTS: Readonly<Omit<Config, "nodeName" | "dnsListen">> = Object.freeze({
  subnet: "9.251.0.0/16",
  device: "edge0",
  deviceType: "auto",
  keepDeviceOnExit: false,
  clusterDomain: "cluster.local",
  defaultNamespace: "default",
  dnsTtl: 5,
  upstreams: Object.freeze([]) as readonly string[],
  dnsAllowFrom: Object.freeze([
    "127.0.0.0/8",
    "::1/128",
    "node",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "fc00::/7",
  ]) as readonly string[],
  dnsUdpBatching: true,
  manageResolvConf: false,
  resolvConf: "/etc/resolv.conf",
  controlSocket: "/run/edgemesh/edgemesh.sock",
  stateDir: "/var/lib/edgemesh",
  lbStrategy: "RoundRobin",
  dialTimeoutMs: 2000,
  dialAttempts: 3,
  ejectCooldownMs: 10000,
  drainGraceMs: 10000,
  proxyThreads: "auto",
  proxyEngine: "auto",
  tunnelListen: "0.0.0.0:40001",
  tunnel: true,
  tunnelKeyFile: null,
  tunnelAcceptKeyFiles: Object.freeze([]) as readonly string[],
  tunnelTLS: null,
  peers: Object.freeze({}) as Readonly<Record<string, string>>,
  metricsListen: "127.0.0.1:9560",
  logLevel: "info",
  logFormat: "logfmt",
});

/** Most proxy threads a config may ask for. */
export const MAX_PROXY_THREADS = 64;
/** Most threads `proxyThreads: auto` starts, however many CPUs there are. */
export const AUTO_PROXY_THREADS_MAX = 4;

/**
 * The thread count of `proxyThreads`: a number as given; `"auto"` one per CPU the process
 * may use (`cpus`, e.g. `navigator.hardwareConcurrency`), at least 1 and at most
 * {@linkcode AUTO_PROXY_THREADS_MAX}.
 */
export function proxyThreadCount(setting: number | "auto", cpus: number): number {
  if (setting !== "auto") return setting;
  return Math.max(1, Math.min(AUTO_PROXY_THREADS_MAX, Math.floor(cpus) || 1));
}

/** Port of the DNS server when `dnsListen` is defaulted (RFC 1035 §4.2). */
export const DEFAULT_DNS_PORT = 53;

/** Every key a config file may contain, in documentation order. */
export const CONFIG_KEYS: readonly (keyof Config)[] = Object.freeze([
  "nodeName",
  "subnet",
  "device",
  "deviceType",
  "keepDeviceOnExit",
  "dnsListen",
  "clusterDomain",
  "defaultNamespace",
  "dnsTtl",
  "upstreams",
  "dnsAllowFrom",
  "dnsUdpBatching",
  "manageResolvConf",
  "resolvConf",
  "controlSocket",
  "stateDir",
  "lbStrategy",
  "dialTimeoutMs",
  "dialAttempts",
  "ejectCooldownMs",
  "drainGraceMs",
  "proxyThreads",
  "proxyEngine",
  "tunnelListen",
  "tunnel",
  "tunnelKeyFile",
  "tunnelAcceptKeyFiles",
  "tunnelTLS",
  "peers",
  "metricsListen",
  "logLevel",
  "logFormat",
]);
