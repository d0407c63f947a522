// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Where the connections of each `VIP:port` listener go: {@linkcode RouteTable} turns a registry
 * snapshot into the listeners it asks for and their {@linkcode Route}s (balancer with its
 * candidates, metric labels, failover over the local or remote dialer), keeping each service
 * port's balancer (and so its round-robin position and affinity) from snapshot to snapshot.
 * @module
 */
import type { Logger } from "../log/mod.ts";
import type { Labels } from "../metrics/mod.ts";
import type { Backend, LbStrategy, ServiceKey, ServicePort, Snapshot } from "../registry/model.ts";
import { backendKey, Balancer, type SharedCursor } from "./balancer.ts";
import { candidatesFor, type NoCandidatesReason } from "./candidates.ts";
import type { FailoverOptions } from "./dial.ts";
import type { Dialer } from "./dialer.ts";
import type { PassiveHealth } from "./health.ts";
import { type ListenerKey, listenerKey, type ListenerSpec } from "./listener.ts";
import type { ProxyMetrics } from "./metrics.ts";

/** Where connections of one listener go; replaced on every update. */
export interface Route {
  readonly service: ServiceKey;
  readonly servicePort: ServicePort;
  readonly balancer: Balancer;
  /** Why the balancer is empty (the log line of a rejected connection), or null. */
  readonly empty: NoCandidatesReason | null;
  readonly labels: Labels;
  readonly labelsIn: Labels;
  readonly labelsOut: Labels;
  readonly failover: FailoverOptions;
}

/** The listeners a snapshot asks for, and where each one's connections go. */
export interface RoutePlan {
  readonly desired: Map<ListenerKey, ListenerSpec>;
  readonly routes: Map<ListenerKey, Route>;
}

/** What {@linkcode RouteTable} needs of the proxy's options, resolved (see `ProxyOptions`). */
export interface RouteTableOptions {
  readonly log: Logger;
  readonly nodeName: string;
  readonly strategy: LbStrategy;
  readonly timeoutMs: number;
  readonly attempts: number;
  readonly local: Dialer;
  readonly remote: Dialer | undefined;
  readonly now: () => number;
  readonly random: (() => number) | undefined;
  readonly health: PassiveHealth;
  readonly metrics: ProxyMetrics | null;
  /** Aborted when the proxy closes: ends the dials in flight. */
  readonly signal: AbortSignal;
  readonly statelessOnly: boolean;
  readonly cursorOf: ((service: ServiceKey, port: number) => SharedCursor | undefined) | undefined;
}

/** The routes of one proxy's listeners and the balancers behind them. */
export class RouteTable {
  readonly #log: Logger;
  readonly #nodeName: string;
  readonly #strategy: LbStrategy;
  readonly #timeoutMs: number;
  readonly #attempts: number;
  readonly #local: Dialer;
  readonly #remote: Dialer | undefined;
  readonly #now: () => number;
  readonly #random: (() => number) | undefined;
  readonly #health: PassiveHealth;
  readonly #metrics: ProxyMetrics | null;
  readonly #signal: AbortSignal;
  readonly #statelessOnly: boolean;
  readonly #cursorOf: ((service: ServiceKey, port: number) => SharedCursor | undefined) | undefined;
  #balancers = new Map<ServiceKey, Map<number, Balancer>>();

  constructor(options: RouteTableOptions) {
    this.#log = options.log;
    this.#nodeName = options.nodeName;
    this.#strategy = options.strategy;
    this.#timeoutMs = options.timeoutMs;
    this.#attempts = options.attempts;
    this.#local = options.local;
    this.#remote = options.remote;
    this.#now = options.now;
    this.#random = options.random;
    this.#health = options.health;
    this.#metrics = options.metrics;
    this.#signal = options.signal;
    this.#statelessOnly = options.statelessOnly;
    this.#cursorOf = options.cursorOf;
  }

  /**
   * The listeners `snapshot` asks for (every TCP port of every service with a VIP; worker
   * threads skip ClientIP affinity) and their routes. A route whose balancer, service, port and
   * emptiness are those of the running listener's (`listeners`) is kept as it is; balancers are
   * kept per service port while their strategy, affinity and cursor stay.
   */
  plan(
    snapshot: Snapshot,
    listeners: ReadonlyMap<ListenerKey, { readonly route: Route }>,
  ): RoutePlan {
    const desired = new Map<ListenerKey, ListenerSpec>();
    const routes = new Map<ListenerKey, Route>();
    const balancers = new Map<ServiceKey, Map<number, Balancer>>();
    for (const [service, entry] of snapshot.services) {
      if (entry.vip === null) continue;
      const svc = entry.service;
      const strategy = svc.lbStrategy ?? this.#strategy;
      if (this.#statelessOnly && svc.sessionAffinity.type === "ClientIP") continue;
      for (const servicePort of svc.ports) {
        if (servicePort.protocol !== "TCP") continue;
        const key = listenerKey(entry.vip, servicePort.port);
        if (desired.has(key)) continue;
        const cursor = this.#cursorOf?.(service, servicePort.port);
        let balancer = this.#balancers.get(service)?.get(servicePort.port);
        if (!balancer || !balancer.matches(strategy, svc.sessionAffinity, cursor)) {
          balancer = new Balancer({
            strategy,
            affinity: svc.sessionAffinity,
            ...(this.#random ? { random: this.#random } : {}),
            ...(cursor ? { cursor } : {}),
          });
        }
        // Computed here, once per snapshot, so a connection only picks from a ready list.
        const candidates = candidatesFor(entry, servicePort, this.#nodeName);
        balancer.setBackends(candidates.backends);
        const empty = candidates.kind === "none" ? candidates.reason : null;
        let ports = balancers.get(service);
        if (!ports) balancers.set(service, ports = new Map());
        ports.set(servicePort.port, balancer);
        desired.set(key, { key, vip: entry.vip, port: servicePort.port, service, servicePort });
        const old = listeners.get(key)?.route;
        routes.set(
          key,
          old && old.balancer === balancer && old.service === service &&
            old.servicePort === servicePort && old.empty === empty
            ? old
            : this.#route(service, servicePort, balancer, empty),
        );
      }
    }
    this.#balancers = balancers;
    return { desired, routes };
  }

  #route(
    service: ServiceKey,
    servicePort: ServicePort,
    balancer: Balancer,
    empty: NoCandidatesReason | null,
  ): Route {
    const labels = { service };
    const slash = service.indexOf("/");
    const namespace = service.slice(0, slash);
    const name = service.slice(slash + 1);
    const target = (backend: Backend) => ({ namespace, service: name, port: servicePort, backend });
    const dialOpts = { timeoutMs: this.#timeoutMs, signal: this.#signal };
    return {
      service,
      servicePort,
      balancer,
      empty,
      labels,
      labelsIn: { service, direction: "in" },
      labelsOut: { service, direction: "out" },
      failover: {
        attempts: this.#attempts,
        health: this.#health,
        now: this.#now,
        signal: this.#signal,
        dial: (backend) => this.#dialerFor(backend).dial(target(backend), dialOpts),
        onFailure: (backend, err) => {
          this.#metrics?.dialFailures.inc(labels);
          this.#log.debug("Cannot dial endpoint", {
            service,
            endpoint: backendKey(backend),
            error: err,
          });
        },
      },
    };
  }

  #dialerFor(backend: Backend): Dialer {
    if (this.#remote && backend.nodeName !== null && backend.nodeName !== this.#nodeName) {
      return this.#remote;
    }
    return this.#local;
  }
}
