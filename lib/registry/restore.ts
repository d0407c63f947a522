// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Restoring the working state (`tables.ts`) from persisted state at open: services come back on
 * their persisted VIPs with the persisted cursor; an assignment that is no longer usable (the
 * subnet changed, the pool is full) is dropped or reallocated with a log line, and endpoints
 * that can never be one are dropped. The caller then writes a checkpoint when anything changed.
 * @module
 */

import type { Logger } from "../log/mod.ts";
import { type Endpoint, serviceKey } from "./model.ts";
import { specialIpProblem } from "../netaddr/mod.ts";
import { PoolExhaustedError } from "./vip_pool.ts";
import type { PersistedState } from "./state_format.ts";
import { needsVip, type Tables } from "./tables.ts";
import { Txn } from "./txn.ts";

/**
 * A persisted Endpoints or slice record without the endpoints whose address can never be one
 * (loopback, unspecified, link-local: `specialIpProblem`), each dropped with a `warn` line;
 * the same record when it has none. Incoming changes with such addresses are refused
 * (`convert_endpoints.ts`); state written before that rule still loads, without them.
 */
function withoutSpecialIps<T extends { readonly endpoints: readonly Endpoint[] }>(
  record: T,
  what: string,
  log: Logger,
): T {
  const kept = record.endpoints.filter((ep) => {
    const problem = specialIpProblem(ep.ip);
    if (problem === null) return true;
    log.warn(
      `Dropping a persisted endpoint of ${what}: ${problem} (stored before such addresses ` +
        "were refused; Kubernetes rejects them too)",
      { endpoint: ep.ip, ...(ep.nodeName !== null ? { nodeName: ep.nodeName } : {}) },
    );
    return false;
  });
  return kept.length === record.endpoints.length ? record : { ...record, endpoints: kept };
}

/**
 * Loads persisted state into empty `tables`; returns true when it must be written again: VIP
 * assignments had to change, or endpoints that can never be one were dropped.
 * @param path the state file (named in the `registry state loaded` line)
 */
export function restoreTables(
  tables: Tables,
  s: PersistedState,
  log: Logger,
  path: string,
): boolean {
  const pool = tables.pool;
  const txn = new Txn(); // never rolled back; the mutators need one
  let changed = false;
  for (const r of s.services) {
    tables.services.set(serviceKey(r.service.namespace, r.service.name), r);
  }
  for (const e0 of s.endpoints) {
    const key = serviceKey(e0.namespace, e0.name);
    const e = withoutSpecialIps(e0, `Endpoints ${JSON.stringify(key)}`, log);
    if (e !== e0) changed = true;
    tables.endpoints.set(key, e);
  }
  for (const sl0 of s.slices) {
    const sk = `${sl0.namespace}/${sl0.name}`;
    const sl = withoutSpecialIps(sl0, `EndpointSlice ${JSON.stringify(sk)}`, log);
    if (sl !== sl0) changed = true;
    tables.slices.set(sk, sl);
    tables.indexSlice(serviceKey(sl.namespace, sl.service), sk, true, txn);
  }
  for (const pl of s.podlists) tables.podlists.set(serviceKey(pl.namespace, pl.name), pl);
  for (const p of s.pods) tables.pods.set(`${p.namespace}/${p.name}`, p);
  for (const n of s.nodes) tables.nodes.set(n.name, n);
  if (s.subnet === pool.subnet.cidr) pool.cursor = s.cursor;
  else {
    log.warn("VIP subnet changed since the state was written", {
      was: s.subnet,
      now: pool.subnet.cidr,
    });
    changed = true;
  }
  for (const [key, vip] of s.vips) {
    const rec = tables.services.get(key);
    if (!rec || !needsVip(rec.service)) {
      changed = true;
      continue;
    }
    if (!pool.reserve(key, vip)) {
      log.warn("dropping persisted VIP outside the subnet or taken; reallocating", {
        service: key,
        vip,
        subnet: pool.subnet.cidr,
      });
      changed = true;
    }
  }
  for (const [key, rec] of tables.services) {
    if (!needsVip(rec.service) || pool.get(key) !== undefined) continue;
    changed = true;
    try {
      const vip = pool.allocate(key);
      log.info("allocated VIP", { service: key, vip });
    } catch (e) {
      if (!(e instanceof PoolExhaustedError)) throw e;
      tables.vipErrors.set(key, e.message);
      log.error("cannot restore VIP", { service: key, error: e });
    }
  }
  for (const key of tables.services.keys()) tables.recompute(key, txn);
  tables.version = s.version;
  tables.invalidate();
  log.info("registry state loaded", {
    path,
    services: tables.services.size,
    vips: pool.used,
    nodes: tables.nodes.size,
  });
  return changed;
}
