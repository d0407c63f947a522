// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Pure validation of a raw (parsed YAML/JSON) configuration into a frozen {@linkcode Config}.
 *
 * Every problem is collected, not just the first, so an operator fixes a config in one go;
 * unknown keys are rejected (with a suggestion) because a misspelt key silently falling back
 * to its default is the worst kind of configuration bug. The checks of single values are in
 * `checks.ts`, the error in `issues.ts`.
 * @module
 */
import type { Config, DeviceType } from "./schema.ts";
import type { LbStrategy } from "../registry/model.ts";
import type { LogFormat, LogLevel } from "../log/mod.ts";
import { CONFIG_KEYS, DEFAULT_DNS_PORT, DEFAULTS, MAX_PROXY_THREADS } from "./defaults.ts";
import { formatIpv4, isCidr, readCidr } from "../netaddr/mod.ts";
import { Checker, METRICS_SOCKET_SUFFIX } from "./checks.ts";
import { ConfigError } from "./issues.ts";
import { describe, isPlainObject } from "./values.ts";

/** Options of {@linkcode parseConfig}. */
export interface ParseConfigOptions {
  /** The machine's hostname, the default `nodeName`. */
  readonly hostname: string;
}

const DEVICE_TYPES: readonly DeviceType[] = ["auto", "dummy", "bridge"];
const LB_STRATEGIES: readonly LbStrategy[] = ["RoundRobin", "Random"];
const PROXY_ENGINES: readonly Config["proxyEngine"][] = ["auto", "epoll", "deno"];
const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];
const LOG_FORMATS: readonly LogFormat[] = ["logfmt", "json"];

/**
 * Validates `raw` (the parsed document; `undefined`/`null` mean "all defaults") and returns
 * the frozen config with every default filled in.
 * @throws {ConfigError} listing every problem found
 */
export function parseConfig(raw: unknown, options: ParseConfigOptions): Config {
  const c = new Checker();
  if (raw === undefined || raw === null) raw = {};
  if (!isPlainObject(raw)) {
    throw new ConfigError([{
      path: "",
      message: `expected a mapping of keys to values, got ${describe(raw)}`,
    }]);
  }
  c.unknownKeys("", raw, CONFIG_KEYS);
  const get = <K extends keyof Config>(key: K): unknown => raw[key as string];
  const has = (key: keyof Config) => Object.hasOwn(raw, key) && raw[key] !== undefined;
  const d = DEFAULTS;

  const subnet = has("subnet") ? c.subnet("subnet", get("subnet")) : d.subnet;
  let dnsListen: readonly string[] | undefined;
  if (has("dnsListen")) dnsListen = c.list("dnsListen", get("dnsListen"), (p, v) => c.listen(p, v));
  else if (subnet !== undefined) {
    // The first host address, which the original edgemesh reserved for its DNS server.
    const cidr = readCidr(subnet, { strict: true, family: 4 });
    if (isCidr(cidr) && cidr.family === 4) {
      dnsListen = [`${formatIpv4(cidr.address + 1)}:${DEFAULT_DNS_PORT}`];
    }
  }

  const pick = <K extends keyof Config>(
    key: K,
    check: (path: string, v: unknown) => Config[K] | undefined,
    fallback: Config[K],
  ): Config[K] | undefined => (has(key) ? check(key, get(key)) : fallback);

  const cfg = {
    nodeName: pick("nodeName", (p, v) => c.nodeName(p, v), options.hostname),
    subnet,
    device: pick("device", (p, v) => c.device(p, v), d.device),
    deviceType: pick("deviceType", (p, v) => c.oneOf(p, v, DEVICE_TYPES), d.deviceType),
    keepDeviceOnExit: pick("keepDeviceOnExit", (p, v) => c.bool(p, v), d.keepDeviceOnExit),
    dnsListen,
    clusterDomain: pick("clusterDomain", (p, v) => c.domain(p, v), d.clusterDomain),
    defaultNamespace: pick("defaultNamespace", (p, v) => c.namespace(p, v), d.defaultNamespace),
    dnsTtl: pick("dnsTtl", (p, v) => c.int(p, v, 0, 3600), d.dnsTtl),
    upstreams: pick("upstreams", (p, v) => c.list(p, v, (q, w) => c.upstream(q, w)), d.upstreams),
    dnsAllowFrom: pick(
      "dnsAllowFrom",
      (p, v) => c.list(p, v, (q, w) => c.allowFrom(q, w)),
      d.dnsAllowFrom,
    ),
    dnsUdpBatching: pick("dnsUdpBatching", (p, v) => c.bool(p, v), d.dnsUdpBatching),
    manageResolvConf: pick("manageResolvConf", (p, v) => c.bool(p, v), d.manageResolvConf),
    resolvConf: pick("resolvConf", (p, v) => c.path(p, v), d.resolvConf),
    controlSocket: pick(
      "controlSocket",
      (p, v) => c.socketPath(p, v, METRICS_SOCKET_SUFFIX.length),
      d.controlSocket,
    ),
    stateDir: pick("stateDir", (p, v) => c.path(p, v), d.stateDir),
    lbStrategy: pick("lbStrategy", (p, v) => c.oneOf(p, v, LB_STRATEGIES), d.lbStrategy),
    dialTimeoutMs: pick("dialTimeoutMs", (p, v) => c.duration(p, v, 1, 300_000), d.dialTimeoutMs),
    dialAttempts: pick("dialAttempts", (p, v) => c.int(p, v, 1, 10), d.dialAttempts),
    ejectCooldownMs: pick(
      "ejectCooldownMs",
      (p, v) => c.duration(p, v, 0, 3_600_000),
      d.ejectCooldownMs,
    ),
    drainGraceMs: pick("drainGraceMs", (p, v) => c.duration(p, v, 0, 3_600_000), d.drainGraceMs),
    proxyThreads: pick(
      "proxyThreads",
      (p, v) =>
        v === "auto"
          ? "auto"
          : typeof v === "string"
          ? c.fail(p, `expected an integer 1-${MAX_PROXY_THREADS} or "auto", got "${v}"`)
          : c.int(p, v, 1, MAX_PROXY_THREADS),
      d.proxyThreads,
    ),
    proxyEngine: pick("proxyEngine", (p, v) => c.oneOf(p, v, PROXY_ENGINES), d.proxyEngine),
    tunnelListen: pick("tunnelListen", (p, v) => c.listen(p, v), d.tunnelListen),
    tunnel: pick("tunnel", (p, v) => c.bool(p, v), d.tunnel),
    tunnelKeyFile: pick("tunnelKeyFile", (p, v) => v === null ? null : c.path(p, v), null),
    tunnelAcceptKeyFiles: pick(
      "tunnelAcceptKeyFiles",
      (p, v) => c.list(p, v, (q, w) => c.path(q, w)),
      d.tunnelAcceptKeyFiles,
    ),
    tunnelTLS: pick("tunnelTLS", (p, v) => v === null ? null : c.tls(p, v), null),
    peers: pick("peers", (p, v) => c.peers(p, v), d.peers),
    metricsListen: pick(
      "metricsListen",
      (p, v) => v === "" ? "" : c.listen(p, v),
      d.metricsListen,
    ),
    logLevel: pick("logLevel", (p, v) => c.oneOf(p, v, LOG_LEVELS), d.logLevel),
    logFormat: pick("logFormat", (p, v) => c.oneOf(p, v, LOG_FORMATS), d.logFormat),
  };
  if (c.issues.length > 0) throw new ConfigError(c.issues);
  return deepFreeze(cfg as Config);
}

function deepFreeze<T>(v: T): T {
  if (typeof v === "object" && v !== null && !Object.isFrozen(v)) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}
