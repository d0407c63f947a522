// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The service registry: Kubernetes objects from KubeEdge messages in, immutable snapshots of
 * services (with VIPs and endpoints) and nodes out, persisted so that nothing acknowledged is
 * lost across crashes. See `README.md` in this folder for the rules.
 *
 * ```ts
 * const registry = await Registry.open({ stateDir, subnet: "9.251.0.0/16", log });
 * const stop = registry.subscribe((snapshot) => reconcile(snapshot));
 * await registry.apply({ operation: "insert", namespace: "default", type: "service", name: "nginx", content });
 * ```
 * @module
 */

export * from "./model.ts";
export {
  type ChangeOperation,
  convertChange,
  type ConvertedChange,
  DEFAULT_AFFINITY_TIMEOUT_SECONDS,
  INTERNAL_TRAFFIC_POLICIES,
  isIpAddress,
  LB_STRATEGIES,
  POD_PHASES,
  podEndpoints,
  type PodRecord,
  RESOURCE_TYPES,
  type ResourceChange,
  resourceOf,
  type ResourceType,
  selectorMatches,
  SERVICE_NAME_LABEL,
  SERVICE_PROXY_NAME_LABEL,
  type ServiceRecord,
  type SliceRecord,
} from "./convert.ts";
export {
  isDns1035Label,
  isDns1123Label,
  isDns1123Subdomain,
  isIanaSvcName,
  NAME_RULES,
  type NameRule,
  NAMESPACE_RULE,
} from "./names.ts";
export { API_VERSIONS, ITEM_KINDS, type ObjectKind } from "./kinds.ts";
export {
  dnsAddress,
  formatIpv4,
  type Ipv4Subnet,
  MAX_VIP_PREFIX,
  MIN_VIP_PREFIX,
  parseIpv4,
  parseSubnet,
  PoolExhaustedError,
  type PoolStats,
  subnetContains,
  VipPool,
} from "./vip_pool.ts";
export {
  Registry,
  type RegistryOptions,
  type RegistryStatus,
  type SnapshotListener,
} from "./registry.ts";
export { needsVip } from "./tables.ts";
export { type StateWriteError } from "./writer.ts";
export { JOURNAL_FILE, STATE_FILE, type StateFs, writeFileAtomic } from "./store.ts";
export { STATE_FORMAT } from "./state_format.ts";
export { LOCK_FILE, StateDirBusyError, StateDirError } from "./lock.ts";
export { compareEntries, listServices } from "./view.ts";
export { type ChangeWarning, unmatchedPortsWarning } from "./warnings.ts";
