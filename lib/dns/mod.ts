// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Cluster DNS: service names to VIPs over UDP and TCP, everything else forwarded.
 * @module
 */
export * from "./message.ts";
export { buildZone, DNS_SCHEMA_VERSION, reverseName } from "./zone.ts";
export type { Zone, ZoneOptions } from "./zone.ts";
export { resolve } from "./resolve.ts";
export type { LocalAnswer, Resolution } from "./resolve.ts";
