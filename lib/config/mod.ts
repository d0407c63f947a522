// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The agent configuration: the {@linkcode Config} type, its defaults, validation
 * ({@linkcode parseConfig}, collecting every problem into a {@linkcode ConfigError}) and
 * loading from YAML/JSON files with flag overrides ({@linkcode loadConfig}).
 * @module
 */
export type { Config, DeviceType, TunnelTlsConfig } from "./schema.ts";
export {
  AUTO_PROXY_THREADS_MAX,
  CONFIG_KEYS,
  DEFAULT_DNS_PORT,
  DEFAULTS,
  MAX_PROXY_THREADS,
  proxyThreadCount,
} from "./defaults.ts";
export { parseConfig } from "./parse.ts";
export type { ParseConfigOptions } from "./parse.ts";
export { ConfigError, formatIssue } from "./issues.ts";
export type { ConfigIssue } from "./issues.ts";
export { METRICS_SOCKET_SUFFIX } from "./checks.ts";
export { loadConfig, parseConfigText } from "./load.ts";
export type { LoadConfigOptions } from "./load.ts";
export { firstHostIPv4, isCidr, parseCidr, parseHostPort } from "./address.ts";
export type { Cidr, HostPort } from "./address.ts";
