// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Cluster DNS: service names to VIPs over UDP and TCP, everything else forwarded.
 *
 * Pure core: {@linkcode buildZone} (snapshot → index) and {@linkcode resolve} (question → answer).
 * Shell: {@linkcode DnsServer} (sockets), {@linkcode Forwarder} (upstreams and cache),
 * {@linkcode ResolvConfManager} (`manageResolvConf`).
 * @module
 */
export * from "./message.ts";
export { buildZone, DNS_SCHEMA_VERSION, generatedHostname, reverseName } from "./zone.ts";
export type { Zone, ZoneOptions } from "./zone.ts";
export { inZone, resolve } from "./resolve.ts";
export type { LocalAnswer, Resolution } from "./resolve.ts";
export { AllowList, DEFAULT_DNS_ALLOW_FROM, parseCidr } from "./allow.ts";
export type { AllowListOptions } from "./allow.ts";
export { AnswerCache, cacheKey } from "./cache.ts";
export { Forwarder } from "./forward.ts";
export type { ForwarderOptions, ForwardRequest } from "./forward.ts";
export {
  nameserverProblem,
  parseHostPort,
  parseResolvConf,
  upstreamsFromResolvConf,
} from "./nameservers.ts";
export type { NameserverProblem, Upstream } from "./nameservers.ts";
export { createDenoTransport, denoTransport } from "./transport.ts";
export type { UpstreamTransport } from "./transport.ts";
export { DnsHandler } from "./handler.ts";
export type { DnsHandlerOptions, DnsReply } from "./handler.ts";
export { DnsMetrics } from "./metrics.ts";
export { DnsServer, NODE_ADDRESS_POLL_MS } from "./server.ts";
export type { DnsServerOptions, DnsServerStatus } from "./server.ts";
export {
  RESOLV_CONF_POLL_MS,
  ResolvConfWatch,
  type ResolvConfWatchOptions,
  type UpstreamsTarget,
} from "./resolv_watch.ts";
export {
  denoInterfaceNames,
  resolvConfUpstreams,
  type ResolvConfUpstreamsOptions,
  resolveUpstreams,
  type ResolveUpstreamsOptions,
} from "./upstreams.ts";
export {
  nameserverFor,
  RESOLV_CONF_MARKER,
  ResolvConfManager,
  resolvConfTempPath,
  withOurNameserver,
  withoutOurNameserver,
} from "./resolv_conf.ts";
export type { ResolvConfManagerOptions } from "./resolv_conf.ts";
