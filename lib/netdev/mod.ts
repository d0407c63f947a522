// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The VIP device: {@linkcode NetDev} creates/adopts `edge0` and keeps its /32 addresses equal
 * to the registry's VIPs through `ip` (iproute2); `exec.ts` is the seam for running `ip`.
 *
 * @example
 * ```ts
 * const dev = new NetDev({ device: "edge0", deviceType: "auto", subnet: "9.251.0.0/16",
 *   keepDeviceOnExit: false, exec: denoExec, log });
 * await dev.ensure();
 * await dev.reconcile(new Set(snapshot.vips.keys()));
 * await dev.teardown();
 * ```
 * @module
 */
export { NetDev, type NetDevOptions, ReconcileStoppedError, type TimeoutTimers } from "./netdev.ts";
export {
  type ClaimDevice,
  claimDevice,
  type DeviceClaim,
  DeviceInUseError,
  OWNED_ALIAS,
  ownedAlias,
  readOwnedAlias,
} from "./owner.ts";
export {
  type AddressBatch,
  addressBatches,
  type AddressPlan,
  type AddrShow,
  batchLines,
  DEFAULT_BATCH_LINES,
  type DeviceAddress,
  inCidr,
  type Ipv4Cidr,
  parseAddrJson,
  parseAddrShow,
  parseCidr,
  parseIpv4,
  planAddresses,
  type PlanOptions,
  retainRemoved,
  type Retention,
} from "./plan.ts";
export {
  checkSubnet,
  type CheckSubnetOptions,
  formatOverlap,
  type SubnetOverlap,
  subnetOverlaps,
} from "./overlap.ts";
export {
  CommandError,
  denoExec,
  type Exec,
  type ExecResult,
  fakeExec,
  ipCommandProblem,
  mustRun,
} from "./exec.ts";
