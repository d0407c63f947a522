// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The registry's working state: the records messages said (services, Endpoints, slices,
 * podlists, pods, nodes) and the entries derived from them, kept up to date per change (only
 * the services a change affects are rebuilt). A converted change mutates them under an undo log
 * ({@linkcode Txn}): VIPs are allocated and released with it, and what it altered is compared
 * as stored, so the registry (`registry.ts`) can keep it, take it back or answer it unchanged.
 * The working state runs ahead of what is durable; `writer.ts` persists it, and only then is
 * its snapshot published.
 * @module
 */

import type { Logger } from "../log/mod.ts";
import {
  type ChangeResult,
  type NodeInfo,
  type Service,
  type ServiceEntry,
  type ServiceKey,
  serviceKey,
  type Snapshot,
} from "./model.ts";
import {
  type ConvertedChange,
  type PodRecord,
  type ResourceChange,
  selectorMatches,
  SERVICE_PROXY_NAME_LABEL,
  type ServiceRecord,
  type SliceRecord,
} from "./convert.ts";
import { sameStored } from "./same.ts";
import { type ChangeWarning, otherProxyNote, unmatchedPortsWarning } from "./warnings.ts";
import type { VipPool } from "./vip_pool.ts";
import type {
  EndpointsRecord,
  JournalTable,
  PersistedState,
  PodListRecord,
} from "./state_format.ts";
import { ABSENT, Txn } from "./txn.ts";
import { endpointsFor } from "./endpoint_sources.ts";

/**
 * Whether a service gets a VIP: not headless/ExternalName, at least one TCP port, and not
 * handled by another proxy (`proxyName`: nothing would listen on a VIP of ours).
 */
export function needsVip(service: Service): boolean {
  return service.kind.type === "ClusterIP" && service.proxyName === undefined &&
    service.ports.some((p) => p.protocol === "TCP");
}

/** A change converted and applied to the working state, not yet committed or rolled back. */
export interface Evaluated {
  readonly txn: Txn;
  readonly warnings: readonly ChangeWarning[];
  readonly result: ChangeResult;
}

/** The journal tables that hold records (the `vips` table holds the VIP of a service). */
export type RecordTable = Exclude<JournalTable, "vips">;

/**
 * The working state of a registry. The source maps are readonly fields for restoring persisted
 * state (`restore.ts`) and reading endpoint sources (`endpoint_sources.ts`); changes go through
 * {@linkcode Tables.evaluate}.
 */
export class Tables {
  // Sources (what messages said), keyed by service key / object key.
  readonly services = new Map<ServiceKey, ServiceRecord>();
  readonly endpoints = new Map<ServiceKey, EndpointsRecord>();
  readonly slices = new Map<string, SliceRecord>();
  readonly slicesBySvc = new Map<ServiceKey, ReadonlySet<string>>();
  readonly podlists = new Map<ServiceKey, PodListRecord>();
  readonly pods = new Map<string, PodRecord>();
  readonly nodes = new Map<string, NodeInfo>();
  /** Pool exhaustion found while restoring state (only then can a service lack its VIP). */
  readonly vipErrors = new Map<ServiceKey, string>();
  readonly pool: VipPool;
  /** Version of the working state: one more per change that altered it. */
  version = 0;

  // Derived, kept up to date per change (only affected services are recomputed).
  readonly #entries = new Map<ServiceKey, ServiceEntry>();
  readonly #vipIndex = new Map<string, ServiceKey>();

  /** Whether the next snapshot must copy the service entries (and VIP index) or the nodes. */
  #servicesDirty = true;
  #nodesDirty = true;
  readonly #log: Logger;
  /** Persisted collections by the map holding them. */
  readonly #tables: ReadonlyMap<Map<unknown, unknown>, RecordTable>;
  /** The map of each persisted collection. */
  readonly #maps: Readonly<Record<RecordTable, Map<string, object>>>;

  constructor(pool: VipPool, log: Logger) {
    this.pool = pool;
    this.#log = log;
    this.#maps = {
      services: this.services,
      endpoints: this.endpoints,
      slices: this.slices,
      podlists: this.podlists,
      pods: this.pods,
      nodes: this.nodes,
    };
    this.#tables = new Map(
      Object.entries(this.#maps).map(([table, map]) => [map, table as RecordTable]),
    ) as ReadonlyMap<Map<unknown, unknown>, RecordTable>;
  }

  /** The VIP pool's cursor (persisted with the state). */
  get cursor(): number {
    return this.pool.cursor;
  }

  /** The record `key` of `table` holds now; null when none. */
  record(table: RecordTable, key: string): object | null {
    return this.#maps[table].get(key) ?? null;
  }

  /** The VIP of service `key`; null when it has none. */
  vip(key: ServiceKey): string | null {
    return this.pool.get(key) ?? null;
  }

  /**
   * Applies a converted change to the working state under a new undo log, with what it did
   * (a delete's `found`) and its warnings; on error the log is rolled back and the error thrown.
   * Rolling the log back also restores which snapshot maps need copying.
   */
  evaluate(c: ConvertedChange, operation: ResourceChange["operation"]): Evaluated {
    const txn = new Txn();
    const dirty = [this.#servicesDirty, this.#nodesDirty] as const;
    txn.push(() => [this.#servicesDirty, this.#nodesDirty] = dirty);
    try {
      // Looked up before the mutation, in the working state: a delete pipelined behind an
      // insert of the same object finds it.
      const result: ChangeResult = operation === "delete"
        ? { operation: "delete", found: this.#has(c) }
        : { operation };
      return { txn, result, warnings: [...c.warnings, ...this.#mutate(c, txn)] };
    } catch (e) {
      txn.rollback();
      throw e;
    }
  }

  /**
   * The persisted keys whose stored record a change altered (the journal writes them), each
   * with its table; null when it altered nothing that is stored or shown — no record (compared
   * as stored, `same.ts`), no VIP, no pool-full error. Derived maps (entries, the VIP index, the
   * slice index) are not looked at: they follow from the others. A service whose VIP changed is
   * listed even when its record did not (its journal op carries the VIP).
   */
  alteredKeys(txn: Txn): [RecordTable, string][] | null {
    const keys: [RecordTable, string][] = [];
    let altered = txn.vips.size > 0;
    for (const [map, before] of txn.touched()) {
      const table = this.#tables.get(map);
      if (table === undefined && map !== (this.vipErrors as Map<unknown, unknown>)) continue;
      for (const [key, old] of before) {
        const now = map.has(key) ? map.get(key) : ABSENT;
        const same = old === ABSENT || now === ABSENT ? old === now : sameStored(old, now);
        if (same) continue;
        altered = true;
        if (table !== undefined) keys.push([table, key as string]);
      }
    }
    const listed = new Set(keys.flatMap(([table, key]) => table === "services" ? [key] : []));
    for (const key of txn.vips) if (!listed.has(key)) keys.push(["services", key]);
    return altered ? keys : null;
  }

  /**
   * Whether a converted change leaves the working state as it is (it is not applied: its
   * mutation is rolled back at once). A change the state now refuses (a full pool) does not.
   */
  leavesAsIs(c: ConvertedChange): boolean {
    let evaluated: Evaluated;
    try {
      evaluated = this.evaluate(c, "update");
    } catch {
      return false;
    }
    const keys = this.alteredKeys(evaluated.txn);
    evaluated.txn.rollback();
    return keys === null;
  }

  /**
   * Makes the next snapshot copy every map: after a failed write took changes back, the working
   * state matches none of the snapshots built.
   */
  invalidate(): void {
    this.#servicesDirty = this.#nodesDirty = true;
  }

  /** A frozen snapshot of the working state, sharing `prev`'s maps that did not change. */
  snapshot(prev: Snapshot): Snapshot {
    const services = this.#servicesDirty ? new Map(this.#entries) : prev.services;
    const vips = this.#servicesDirty ? new Map(this.#vipIndex) : prev.vips;
    const nodes = this.#nodesDirty ? new Map(this.nodes) : prev.nodes;
    this.#servicesDirty = this.#nodesDirty = false;
    return Object.freeze({ version: this.version, services, nodes, vips });
  }

  /** The whole working state as `state.json` stores it. */
  persisted(): PersistedState {
    return {
      version: this.version,
      subnet: this.pool.subnet.cidr,
      cursor: this.pool.cursor,
      vips: this.pool.assignments(),
      services: [...this.services.values()],
      endpoints: [...this.endpoints.values()],
      slices: [...this.slices.values()],
      podlists: [...this.podlists.values()],
      pods: [...this.pods.values()],
      nodes: [...this.nodes.values()],
    };
  }

  // -------------------------------------------------------------------------------------------
  // Mutation

  /**
   * Whether the object a change names is in the working state: what a delete of it removes.
   * Each kind is looked up where its source record lives (a Service's record, not its derived
   * entry; an EndpointSlice by its own name, not its service's), so `found` means exactly
   * "a record was removed". A servicelist names no single object (and cannot be deleted).
   */
  #has(c: ConvertedChange): boolean {
    switch (c.type) {
      case "service":
        return this.services.has(serviceKey(c.namespace, c.name));
      case "servicelist":
        return false;
      case "endpoints":
        return this.endpoints.has(serviceKey(c.namespace, c.name));
      case "endpointslice":
        return this.slices.has(`${c.namespace}/${c.name}`);
      case "pod":
        return this.pods.has(`${c.namespace}/${c.name}`);
      case "podlist":
        return this.podlists.has(serviceKey(c.namespace, c.name));
      case "node":
        return this.nodes.has(c.name);
    }
  }

  /**
   * Applies a converted change to the working state; returns the notes about the Services it
   * carries that another proxy handles, and the warnings about the entries it rebuilt (endpoint
   * ports matching no service port). Only changes of a Service or of an endpoints object can
   * produce the latter: pods never decide a service's endpoints while it has Endpoints or
   * slices, so a pod change does not repeat the warning.
   */
  #mutate(c: ConvertedChange, txn: Txn): ChangeWarning[] {
    const affected = new Set<ServiceKey>();
    switch (c.type) {
      case "service": {
        const key = serviceKey(c.namespace, c.name);
        if (c.record) this.#upsertService(key, c.record, txn);
        else this.#removeService(key, txn);
        affected.add(key);
        break;
      }
      case "servicelist": {
        const keep = new Set<ServiceKey>();
        for (const r of c.records) keep.add(serviceKey(r.service.namespace, r.service.name));
        // Release first, so a full pool can take the new services of the same list.
        for (const key of [...this.services.keys()]) {
          if (!keep.has(key)) {
            this.#removeService(key, txn);
            affected.add(key);
          }
        }
        for (const r of c.records) {
          const key = serviceKey(r.service.namespace, r.service.name);
          this.#upsertService(key, r, txn);
          affected.add(key);
        }
        break;
      }
      case "endpoints": {
        const key = serviceKey(c.namespace, c.name);
        if (c.endpoints) {
          txn.set(this.endpoints, key, {
            namespace: c.namespace,
            name: c.name,
            endpoints: c.endpoints,
          });
        } else txn.delete(this.endpoints, key);
        affected.add(key);
        break;
      }
      case "endpointslice": {
        const sk = `${c.namespace}/${c.name}`;
        const old = this.slices.get(sk);
        if (old) {
          const svc = serviceKey(old.namespace, old.service);
          // Replaced in place when updated (a rolled-back no-op keeps the order of the map).
          if (!c.slice) txn.delete(this.slices, sk);
          this.indexSlice(svc, sk, false, txn);
          affected.add(svc);
        }
        if (c.slice) {
          const svc = serviceKey(c.slice.namespace, c.slice.service);
          txn.set(this.slices, sk, c.slice);
          this.indexSlice(svc, sk, true, txn);
          affected.add(svc);
        }
        break;
      }
      case "pod": {
        const pk = `${c.namespace}/${c.name}`;
        const old = this.pods.get(pk);
        if (c.pod) txn.set(this.pods, pk, c.pod);
        else txn.delete(this.pods, pk);
        for (const [key, rec] of this.services) {
          if (rec.service.namespace !== c.namespace || !rec.selector) continue;
          if (
            (old && selectorMatches(rec.selector, old.labels)) ||
            (c.pod && selectorMatches(rec.selector, c.pod.labels))
          ) affected.add(key);
        }
        break;
      }
      case "podlist": {
        const key = serviceKey(c.namespace, c.name);
        if (c.pods) {
          txn.set(this.podlists, key, { namespace: c.namespace, name: c.name, pods: c.pods });
        } else txn.delete(this.podlists, key);
        affected.add(key);
        break;
      }
      case "node": {
        if (c.node) txn.set(this.nodes, c.name, c.node);
        else txn.delete(this.nodes, c.name);
        this.#nodesDirty = true;
        break;
      }
    }
    if (this.vipErrors.size > 0) this.#assignWaiting(affected, txn);
    for (const key of affected) this.recompute(key, txn);
    if (affected.size > 0) this.#servicesDirty = true;
    const warnings: ChangeWarning[] = [];
    // Services another proxy handles: a line per Service the change carries.
    const records = c.type === "service"
      ? (c.record ? [c.record] : [])
      : c.type === "servicelist"
      ? c.records
      : [];
    for (const r of records) {
      const note = otherProxyNote(r.service, SERVICE_PROXY_NAME_LABEL);
      if (note) warnings.push(note);
    }
    if (c.type === "pod" || c.type === "podlist") return warnings;
    for (const key of affected) {
      const entry = this.#entries.get(key);
      const w = entry && unmatchedPortsWarning(key, entry);
      if (w) warnings.push(w);
    }
    return warnings;
  }

  /** Adds slice `sliceKey` to the slices of service `svc`, or removes it. */
  indexSlice(svc: ServiceKey, sliceKey: string, add: boolean, txn: Txn): void {
    const next = new Set(this.slicesBySvc.get(svc));
    if (add) next.add(sliceKey);
    else next.delete(sliceKey);
    if (next.size === 0) txn.delete(this.slicesBySvc, svc);
    else txn.set(this.slicesBySvc, svc, next);
  }

  #upsertService(key: ServiceKey, rec: ServiceRecord, txn: Txn): void {
    txn.set(this.services, key, rec);
    txn.delete(this.vipErrors, key);
    if (!needsVip(rec.service)) {
      this.#release(key, txn);
      return;
    }
    if (this.pool.get(key) !== undefined) return;
    const cursor = this.pool.cursor;
    const vip = this.pool.allocate(key);
    txn.alter(key, () => {
      this.pool.release(key);
      this.pool.cursor = cursor;
    }, () => this.#log.info("allocated VIP", { service: key, vip }));
  }

  /**
   * Gives the VIPs a change freed to services left without one (the pool was full when the
   * state loaded, after `subnet` shrank), in name order, journalled with the change. Before,
   * such a service waited for its next update from KubeEdge however many VIPs were free.
   */
  #assignWaiting(affected: Set<ServiceKey>, txn: Txn): void {
    for (const key of [...this.vipErrors.keys()].sort()) {
      if (this.pool.free <= 0) return;
      const rec = this.services.get(key);
      if (!rec) continue;
      this.#upsertService(key, rec, txn);
      affected.add(key);
    }
  }

  #removeService(key: ServiceKey, txn: Txn): void {
    txn.delete(this.services, key);
    txn.delete(this.vipErrors, key);
    this.#release(key, txn);
  }

  #release(key: ServiceKey, txn: Txn): void {
    const vip = this.pool.release(key);
    if (vip === undefined) return;
    txn.alter(
      key,
      () => this.pool.reserve(key, vip),
      () => this.#log.info("released VIP", { service: key, vip }),
    );
  }

  /** Rebuilds the entry of one service from its sources. */
  recompute(key: ServiceKey, txn: Txn): void {
    const old = this.#entries.get(key);
    const rec = this.services.get(key);
    const vip = rec ? this.pool.get(key) ?? null : null;
    // The index entry of a kept VIP stays in place (a rolled-back no-op keeps the map's order).
    if (old?.vip && old.vip !== vip && this.#vipIndex.get(old.vip) === key) {
      txn.delete(this.#vipIndex, old.vip);
    }
    if (!rec) {
      txn.delete(this.#entries, key);
      return;
    }
    const { endpoints, source } = endpointsFor(this, key, rec);
    const vipError = this.vipErrors.get(key);
    const entry: ServiceEntry = {
      service: rec.service,
      vip,
      ...(vipError === undefined ? {} : { vipError }),
      endpoints,
      endpointSource: source,
    };
    if (vip !== null && this.#vipIndex.get(vip) !== key) txn.set(this.#vipIndex, vip, key);
    txn.set(this.#entries, key, entry);
  }
}
