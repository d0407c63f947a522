// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The listener budget of a proxy thread: which `VIP:port` listeners of a snapshot fit in it
 * (pure: {@linkcode listenerBudget}), and {@linkcode ProxyBudget}, which takes the rest out of
 * an update and logs one summary when the services left short change.
 * @module
 */
import type { Logger } from "../log/mod.ts";
import type { ServiceKey, Snapshot } from "../registry/model.ts";
import { type ListenerKey, listenerKey, type ListenerSpec } from "./listener.ts";

/** Listeners a snapshot asks for beyond the budget, per service (see {@linkcode listenerBudget}). */
export interface ListenerBudget {
  /** The listeners that may be opened. */
  readonly allowed: ReadonlySet<ListenerKey>;
  /** Services that get fewer listeners than they have TCP ports: wanted and refused. */
  readonly short: ReadonlyMap<ServiceKey, { readonly ports: number; readonly refused: number }>;
}

/**
 * Which of the `VIP:port` listeners of `snapshot` fit in `max` (the listener budget of one
 * proxy thread, from the open-files limit), or null when all do (the usual case). Services
 * with fewer TCP ports come first (snapshot order among equals), so one service with thousands
 * of ports cannot leave the others without listeners, and the same snapshot always gets the
 * same listeners on every thread and after a restart. Pure; every service with a VIP counts,
 * also those a worker thread does not serve (session affinity), so the threads agree.
 */
export function listenerBudget(snapshot: Snapshot, max: number): ListenerBudget | null {
  const wanted: { service: ServiceKey; keys: ListenerKey[] }[] = [];
  let total = 0;
  for (const [service, entry] of snapshot.services) {
    if (entry.vip === null) continue;
    const keys: ListenerKey[] = [];
    for (const p of entry.service.ports) {
      if (p.protocol === "TCP") keys.push(listenerKey(entry.vip, p.port));
    }
    total += keys.length;
    wanted.push({ service, keys });
  }
  if (total <= max) return null;
  // Array.prototype.sort is stable: snapshot order among services with as many ports.
  wanted.sort((a, b) => a.keys.length - b.keys.length);
  const allowed = new Set<ListenerKey>();
  const short = new Map<ServiceKey, { ports: number; refused: number }>();
  for (const { service, keys } of wanted) {
    let refused = 0;
    for (const key of keys) {
      if (allowed.has(key)) continue;
      if (allowed.size < max) allowed.add(key);
      else refused++;
    }
    if (refused > 0) short.set(service, { ports: keys.length, refused });
  }
  return { allowed, short };
}

/** How many service names {@linkcode budgetSummary} lists in its `first` field. */
export const BUDGET_SUMMARY_NAMES = 5;

/** Where an operator sees every unbound listener (named in the budget summary line). */
export const UNBOUND_LISTENERS_HINT = "edgemesh ctl status -o json (unboundListeners)";

/** The fields of the one log line about services short of listeners (see {@linkcode budgetSummary}). */
export interface BudgetSummary {
  /** Services that get fewer listeners than they have TCP ports. */
  readonly services: number;
  /** Listeners not opened, over all of them. */
  readonly listeners: number;
  /** The first {@linkcode BUDGET_SUMMARY_NAMES} of them, in budget order, comma-separated. */
  readonly first: string;
}

/**
 * The summary of `short` (from {@linkcode listenerBudget}) to log, or null when it is the same
 * as `previous` (nothing to say). An empty `short` after a non-empty `previous` gives a summary
 * of zero services (every listener fits again). Pure: one line per change instead of one per
 * service, which with thousands of services flooded the log at every start.
 */
export function budgetSummary(
  short: ReadonlyMap<ServiceKey, string>,
  previous: ReadonlyMap<ServiceKey, string>,
): BudgetSummary | null {
  if (sameShares(short, previous)) return null;
  let listeners = 0;
  const names: ServiceKey[] = [];
  for (const [service, share] of short) {
    listeners += Number(share.slice(0, share.indexOf("/")));
    if (names.length < BUDGET_SUMMARY_NAMES) names.push(service);
  }
  const more = short.size > names.length ? `, … (${short.size - names.length} more)` : "";
  return { services: short.size, listeners, first: names.join(", ") + more };
}

function sameShares(
  a: ReadonlyMap<ServiceKey, string>,
  b: ReadonlyMap<ServiceKey, string>,
): boolean {
  if (a.size !== b.size) return false;
  for (const [service, share] of a) if (b.get(service) !== share) return false;
  return true;
}

/**
 * The listener budget of one proxy thread: `maxListeners` per thread, from the open-files
 * limit `openFiles` (./gate.ts), and the services it left short as last logged.
 */
export class ProxyBudget {
  readonly #log: Logger;
  readonly #maxListeners: number;
  readonly #openFiles: number;
  readonly #thread: number;
  /** Services short of listeners (budget), as last warned: `refused/ports`. */
  #short = new Map<ServiceKey, string>();

  /** `maxListeners` Infinity: no budget. `thread` 0 is the main thread (it warns). */
  constructor(log: Logger, maxListeners: number, openFiles: number, thread: number) {
    this.#log = log;
    this.#maxListeners = maxListeners;
    this.#openFiles = openFiles;
    this.#thread = thread;
  }

  /** The error of a listener the budget leaves out, as `ctl status` shows it. */
  notOpened(): string {
    return `not opened: the proxy's listener budget (${this.#maxListeners} per ` +
      `thread, from the open-files limit ${this.#openFiles}) is used up`;
  }

  /**
   * Takes the listeners beyond the budget out of `desired` (they are reported unbound) and logs
   * one summary when the services left short changed (each one's detail at debug). Services
   * with fewer ports come first.
   */
  apply(snapshot: Snapshot, desired: Map<ListenerKey, ListenerSpec>): ListenerSpec[] {
    const budget = this.#maxListeners === Infinity
      ? null
      : listenerBudget(snapshot, this.#maxListeners);
    const over: ListenerSpec[] = [];
    const short = new Map<ServiceKey, string>();
    if (budget !== null) {
      for (const [key, spec] of desired) {
        if (budget.allowed.has(key)) continue;
        over.push(spec);
        desired.delete(key);
      }
      for (const [service, { ports, refused }] of budget.short) {
        const text = `${refused}/${ports}`;
        short.set(service, text);
        if (this.#short.get(service) === text) continue;
        this.#log.debug(
          "Not listening on some ports of a service: the proxy's listener budget is used up",
          {
            service,
            ports,
            unbound: refused,
            maxListeners: this.#maxListeners,
            openFilesLimit: this.#openFiles,
          },
        );
      }
    }
    const summary = budgetSummary(short, this.#short);
    this.#short = short;
    if (summary !== null) this.#logBudget(summary);
    return over;
  }

  /**
   * One line per update that changes which listeners the budget leaves out (per service at
   * debug). Worker threads compute the same budget from the same snapshot: only the main
   * thread warns, theirs is at debug.
   */
  #logBudget(summary: BudgetSummary): void {
    const limits = { maxListeners: this.#maxListeners, openFilesLimit: this.#openFiles };
    if (summary.services === 0) {
      this.#log.info("Every service port fits the proxy's listener budget again", limits);
      return;
    }
    const fields = { ...summary, ...limits, see: UNBOUND_LISTENERS_HINT };
    const msg = "Not listening on some service ports: the proxy's listener budget is used up";
    if (this.#thread === 0) this.#log.warn(msg, fields);
    else this.#log.debug(msg, fields);
  }
}
