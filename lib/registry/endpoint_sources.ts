// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Which source decides a service's endpoints (README, "Endpoint sources and precedence"):
 * its EndpointSlices, else its Endpoints, else its podlist, else the pods its selector selects.
 * Pure: reads the records the registry holds (`tables.ts`), changes nothing.
 * @module
 */

import type { Endpoint, EndpointSource, ServiceKey } from "./model.ts";
import {
  podEndpoints,
  type PodRecord,
  selectorMatches,
  type ServiceRecord,
  type SliceRecord,
} from "./convert.ts";
import type { EndpointsRecord, PodListRecord } from "./state_format.ts";

/** The records endpoints come from, keyed as the registry keys them. */
export interface EndpointRecords {
  readonly slices: ReadonlyMap<string, SliceRecord>;
  /** The keys of each service's slices. */
  readonly slicesBySvc: ReadonlyMap<ServiceKey, ReadonlySet<string>>;
  readonly endpoints: ReadonlyMap<ServiceKey, EndpointsRecord>;
  readonly podlists: ReadonlyMap<ServiceKey, PodListRecord>;
  readonly pods: ReadonlyMap<string, PodRecord>;
}

/** Endpoint source precedence: EndpointSlices, else Endpoints, else podlist, else pods. */
export function endpointsFor(
  records: EndpointRecords,
  key: ServiceKey,
  rec: ServiceRecord,
): { endpoints: readonly Endpoint[]; source: EndpointSource } {
  const sliceKeys = records.slicesBySvc.get(key);
  if (sliceKeys && sliceKeys.size > 0) {
    const out: Endpoint[] = [];
    const seen = new Set<string>();
    for (const sk of [...sliceKeys].sort()) {
      for (const ep of records.slices.get(sk)?.endpoints ?? []) {
        const id = `${ep.ip} ${JSON.stringify(ep.ports)}`;
        if (seen.has(id)) continue;
        seen.add(id);
        out.push(ep);
      }
    }
    return { endpoints: out, source: "endpointslice" };
  }
  const eps = records.endpoints.get(key);
  if (eps) return { endpoints: eps.endpoints, source: "endpoints" };
  const pl = records.podlists.get(key);
  if (pl) return { endpoints: podEndpoints(rec.service, pl.pods), source: "podlist" };
  if (rec.selector && records.pods.size > 0) {
    const sel = rec.selector;
    const pods = [...records.pods.values()].filter((p) =>
      p.namespace === rec.service.namespace && selectorMatches(sel, p.labels)
    );
    if (pods.length > 0) return { endpoints: podEndpoints(rec.service, pods), source: "podlist" };
  }
  return { endpoints: [], source: "none" };
}
