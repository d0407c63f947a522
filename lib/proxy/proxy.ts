// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The L4 TCP proxy: one listener per `VIP:port`, reconciled from registry snapshots, each
 * connection balanced over the service's ready endpoints (else its serving-terminating ones,
 * within its `internalTrafficPolicy`: ./candidates.ts) with retries, failover, passive health,
 * half-close and a drain period for deleted services, whose metric series are removed once their
 * last connection has ended.
 * @module
 */
import type { Logger } from "../log/mod.ts";
import type { Reactor } from "../sys/reactor.ts";
import type { MetricsRegistry } from "../metrics/mod.ts";
import type { LbStrategy, ServiceKey, Snapshot } from "../registry/model.ts";
import type { BackendKey, SharedCursor } from "./balancer.ts";
import type { Dialer } from "./dialer.ts";
import {
  openProxyIo,
  type ProxyEngine,
  type ProxyEngineSetting,
  type ProxyIo,
  type ServiceListener,
} from "./engine.ts";
import { PassiveHealth } from "./health.ts";
import { ConnGate, type ProxyLimits } from "./gate.ts";
import { Connections, type ConnGroup, connGroup } from "./connections.ts";
import { type ListenerKey, type ListenerSpec, planListeners } from "./listener.ts";
import { ProxyBudget } from "./budget.ts";
import { type ProxyMetrics, proxyMetrics } from "./metrics.ts";
import { type Route, RouteTable } from "./routes.ts";
import { type SpliceBuffers, spliceBuffers } from "./splice.ts";
import { monotonicNow } from "../sys/clock.ts";

/** Options of {@linkcode Proxy}; the names match `Config` keys. */
export interface ProxyOptions {
  /** This node's name: endpoints with another `nodeName` are remote. */
  readonly nodeName: string;
  readonly log: Logger;
  readonly metrics?: MetricsRegistry;
  /** Global strategy; a service's `edgemesh.kubeedge.io/lb-strategy` annotation overrides it. @default "RoundRobin" */
  readonly lbStrategy?: LbStrategy;
  /** Per-attempt dial timeout, ms. @default 2000 */
  readonly dialTimeoutMs?: number;
  /** Dial attempts per connection, in all. @default 3 */
  readonly dialAttempts?: number;
  /** How long a backend whose dial failed is skipped, ms. @default 10000 */
  readonly ejectCooldownMs?: number;
  /** How long open connections of a deleted service (or port) may continue, ms. @default 10000 */
  readonly drainGraceMs?: number;
  /**
   * Sockets: `epoll` (FFI on the C library), `deno` (Deno's sockets), or `auto` (`epoll` where
   * FFI is allowed). See ./engine.ts. @default "auto"
   */
  readonly engine?: ProxyEngineSetting;
  /**
   * The thread's epoll loop for the `epoll` engine, shared with other users (the agent's DNS
   * server) and closed by the caller. @default a loop of the proxy's own
   */
  readonly reactor?: Reactor;
  /** Dials local endpoints (no `nodeName`, or ours). @default the engine's dialer */
  readonly localDialer?: Dialer;
  /**
   * Dials endpoints on other nodes (the tunnel), or builds that dialer from the local one (so
   * remote endpoints dialled directly use the engine's sockets too). If omitted, they are
   * dialled with `localDialer`.
   */
  readonly remoteDialer?: Dialer | ((local: Dialer) => Dialer);
  /**
   * Clock for affinity, ejection and the rate of warnings, ms: durations only.
   * @default monotonicNow (lib/sys/clock.ts)
   */
  readonly now?: () => number;
  /** Random source for the `Random` strategy. @default Math.random */
  readonly random?: () => number;
  /** Copy buffers (pooled, small then bulk; see ./splice.ts). @default {@linkcode spliceBuffers} */
  readonly buffers?: SpliceBuffers;
  /**
   * Bind listeners with `SO_REUSEPORT`, so other proxy threads can listen on the same
   * `VIP:port` and the kernel spreads new connections over them. @default false
   */
  readonly reusePort?: boolean;
  /**
   * Listen only for service ports without ClientIP session affinity (a worker thread: the
   * affinity table lives on the main thread, whose listener then takes all of that service's
   * connections). @default false
   */
  readonly statelessOnly?: boolean;
  /** Shared round-robin position of a service port (proxy threads), if any. */
  readonly cursorOf?: (service: ServiceKey, port: number) => SharedCursor | undefined;
  /** Told of every passive-health ejection made here (shared with the other threads). */
  readonly onEject?: (key: BackendKey, forMs: number) => void;
  /**
   * Told when services that left the snapshot have no connection left on this proxy (their
   * last counts are in): the caller removes their series later with
   * {@linkcode Proxy.forgetServices} (proxy threads wait until every thread is done). Without
   * it the proxy removes them itself at that moment.
   */
  readonly onServicesRetired?: (services: ServiceKey[]) => void;
  /**
   * The connection cap (shared by the threads) and listener budget, from the open-files limit
   * (./gate.ts). Without: no cap, no budget.
   */
  readonly limits?: ProxyLimits;
  /** This proxy's thread: 0 main, `n` worker `n` (its share of the shared count). @default 0 */
  readonly thread?: number;
}

/** One listener as reported by {@linkcode Proxy.listeners} (for `ctl status`). */
export interface ListenerStatus {
  readonly vip: string;
  readonly port: number;
  readonly service: ServiceKey;
  readonly portName: string;
  /** False when the bind failed; it is retried on the next update. */
  readonly bound: boolean;
  /** Why the bind failed, or null. */
  readonly error: string | null;
  /**
   * What kept it unbound: `bind`, the socket could not be bound (the port taken by another
   * program, the address missing), which a retry may fix; `budget`, the listener budget is used
   * up, which only a restart with more open files does; null when bound.
   */
  readonly failure: "bind" | "budget" | null;
  /** Open connections through this listener. */
  readonly connections: number;
  /**
   * Backends connections to this service port go to: ready ones, else serving-terminating
   * ones, on this node only with `internalTrafficPolicy: Local`.
   */
  readonly endpoints: number;
}

/** A listener that is not open, and why (see {@linkcode ListenerStatus}). */
interface FailedListener {
  readonly spec: ListenerSpec;
  readonly route: Route;
  readonly error: string;
  readonly failure: "bind" | "budget";
}

interface ListenerState {
  spec: ListenerSpec;
  route: Route;
  readonly listener: ServiceListener;
  /** The accept loop; settles once the socket is released. */
  readonly loop: Promise<void>;
  readonly group: ConnGroup;
}

/**
 * The L4 proxy. Call {@linkcode update} with every registry snapshot (after the VIPs are on
 * the device) and {@linkcode close} on shutdown.
 *
 * - Listeners: one per TCP port of every service with a VIP; only the difference between
 *   snapshots is started/stopped. A failed bind is logged, counted and retried next update.
 * - Endpoint changes swap balancer state only; open connections continue until they end.
 * - A deleted service (or port) stops accepting at once; its open connections get
 *   `drainGraceMs`, then are closed.
 */
export class Proxy {
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #health: PassiveHealth;
  readonly #metrics: ProxyMetrics | null;
  readonly #abort = new AbortController();
  readonly #reusePort: boolean;
  readonly #io: ProxyIo;
  readonly #routes: RouteTable;
  readonly #conns: Connections;
  #closed = false;
  readonly #gate: ConnGate;
  readonly #budget: ProxyBudget;

  readonly #onRetired: ((services: ServiceKey[]) => void) | undefined;
  /** Services of the last snapshot: their series stay. */
  #services: ReadonlySet<ServiceKey> = new Set();
  /**
   * Services that left the snapshot while this proxy may still have connections of theirs:
   * their series stay until those have ended (then they retire: see {@linkcode #sweep}).
   */
  readonly #retiring = new Set<ServiceKey>();

  #listeners = new Map<ListenerKey, ListenerState>();
  #failed = new Map<ListenerKey, FailedListener>();
  readonly #loops = new Set<Promise<void>>();

  constructor(options: ProxyOptions) {
    this.#log = options.log;
    this.#io = openProxyIo(options.engine ?? "auto", this.#log, options.reactor ?? null);
    const local = options.localDialer ?? this.#io.dialer;
    const remoteOption = options.remoteDialer;
    const remote = typeof remoteOption === "function" ? remoteOption(local) : remoteOption;
    this.#now = options.now ?? monotonicNow;
    const buffers = options.buffers ?? spliceBuffers();
    this.#health = new PassiveHealth(options.ejectCooldownMs ?? 10_000, options.onEject);
    this.#reusePort = options.reusePort ?? false;
    this.#onRetired = options.onServicesRetired;
    this.#gate = new ConnGate(options.limits ?? null, options.thread ?? 0, this.#log, this.#now);
    this.#budget = new ProxyBudget(
      this.#log,
      options.limits?.maxListeners ?? Infinity,
      options.limits?.openFiles ?? 0,
      options.thread ?? 0,
    );
    this.#metrics = options.metrics ? proxyMetrics(options.metrics) : null;
    this.#conns = new Connections({
      log: this.#log,
      io: this.#io,
      gate: this.#gate,
      metrics: this.#metrics,
      buffers,
      now: this.#now,
      graceMs: options.drainGraceMs ?? 10_000,
      signal: this.#abort.signal,
      onDrained: () => this.#sweep(),
    });
    this.#routes = new RouteTable({
      log: this.#log,
      nodeName: options.nodeName,
      strategy: options.lbStrategy ?? "RoundRobin",
      timeoutMs: options.dialTimeoutMs ?? 2000,
      attempts: Math.max(1, options.dialAttempts ?? 3),
      local,
      remote,
      now: this.#now,
      random: options.random,
      health: this.#health,
      metrics: this.#metrics,
      signal: this.#abort.signal,
      statelessOnly: options.statelessOnly ?? false,
      cursorOf: options.cursorOf,
    });
    this.#metrics?.listeners.collect(() => {
      const per = new Map<ServiceKey, number>();
      for (const s of this.#listeners.values()) {
        per.set(s.route.service, (per.get(s.route.service) ?? 0) + 1);
      }
      return [...per].map(([service, n]) => [{ service }, n]);
    });
    // Open connections are counted at scrape time from the connection groups (listening and
    // draining) instead of an inc and a dec per connection: each gauge update renders its label
    // key, which cost more CPU than the rest of the proxy's bookkeeping per connection.
    this.#metrics?.active.collect(() => {
      const per = new Map<ServiceKey, number>();
      for (const s of this.#listeners.values()) per.set(s.route.service, 0);
      const add = (g: ConnGroup) => {
        for (const rec of g.conns) per.set(rec.service, (per.get(rec.service) ?? 0) + 1);
      };
      for (const s of this.#listeners.values()) add(s.group);
      for (const g of this.#conns.draining) add(g);
      return [...per].map(([service, n]) => [{ service }, n]);
    });
  }

  /**
   * Reconciles listeners and balancers with `snapshot`: desired listeners are every TCP port
   * of every service with a VIP. New listeners accept as soon as this returns; the promise
   * resolves once removed listeners have released their sockets (so the port is free and a
   * client is refused). Never rejects: a failed bind is logged and retried next update.
   */
  update(snapshot: Snapshot): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const { desired, routes } = this.#routes.plan(snapshot, this.#listeners);
    const services = new Set(snapshot.services.keys());
    for (const service of this.#services) {
      if (!services.has(service)) this.#retiring.add(service);
    }
    // Back before its connections ended: the same series go on.
    for (const service of this.#retiring) if (services.has(service)) this.#retiring.delete(service);
    this.#services = services;

    const overBudget = this.#budget.apply(snapshot, desired);
    const plan = planListeners(desired, new Set(this.#listeners.keys()));
    const stopped: Promise<void>[] = [];
    for (const key of plan.stop) {
      const state = this.#listeners.get(key)!;
      this.#listeners.delete(key);
      state.group.stopped = true;
      state.listener.close();
      stopped.push(state.loop);
      this.#conns.drain(state.group, state.spec.service, state.spec.key);
    }
    for (const [key, state] of this.#listeners) {
      const route = routes.get(key)!;
      if (route.service !== state.route.service && state.group.conns.size > 0) {
        state.group.foreign = true;
      }
      state.spec = desired.get(key)!;
      state.route = route;
    }
    const failed = new Map<ListenerKey, FailedListener>();
    for (const spec of overBudget) {
      const error = this.#budget.notOpened();
      failed.set(spec.key, { spec, route: routes.get(spec.key)!, error, failure: "budget" });
    }
    for (const spec of plan.start) {
      const route = routes.get(spec.key)!;
      const before = this.#failed.get(spec.key)?.error;
      try {
        this.#start(spec, route);
      } catch (err) {
        const error = (err as Error).message;
        failed.set(spec.key, { spec, route, error, failure: "bind" });
        this.#metrics?.listenFailures.inc(route.labels);
        const fields = {
          service: spec.service,
          addr: spec.key,
          error,
          ...listenHint(spec.port, err),
        };
        const msg = "Cannot listen on service address, will retry on the next update";
        if (before === error) this.#log.debug(msg, fields);
        else this.#log.warn(msg, fields);
        continue;
      }
      // The warning above has its end: the operator sees when the service answers again.
      if (before !== undefined) {
        this.#log.info("Listening on service address now", {
          service: spec.service,
          addr: spec.key,
        });
      }
    }
    this.#failed = failed;
    this.#sweep();
    return stopped.length === 0 ? Promise.resolve() : Promise.all(stopped).then(() => {});
  }

  #start(spec: ListenerSpec, route: Route): void {
    const listener = this.#io.listen(spec.vip, spec.port, this.#reusePort, this.#gate);
    const group = connGroup();
    const conns = this.#conns;
    // serve() hands over no connection before it returns, so the state is set in time.
    const holder: { state?: ListenerState } = {};
    let loop: Promise<void>;
    try {
      loop = listener.serve((conn) => conns.accept(conn, holder.state!))
        .finally(() => this.#loops.delete(loop));
    } catch (err) {
      listener.close();
      throw err;
    }
    this.#loops.add(loop);
    holder.state = { spec, route, listener, loop, group };
    this.#listeners.set(spec.key, holder.state);
    this.#log.debug("Listening", { service: spec.service, addr: spec.key });
  }

  /**
   * Retires every retiring service none of whose connections is open any more: its series are
   * removed ({@linkcode forgetServices}), or the owner is told (`onServicesRetired`). Runs on
   * updates and when a drained listener's last connection ends, never per connection; it looks
   * at the connections of draining listeners (and of listeners that changed service), not at
   * every open one. A retiring service whose last connection was on a listener that changed
   * service retires on the next update (the agent's periodic resync at the latest).
   */
  #sweep(): void {
    if (this.#retiring.size === 0 || this.#closed) return;
    const open = new Set<ServiceKey>();
    const scan = (g: ConnGroup) => {
      for (const rec of g.conns) if (this.#retiring.has(rec.service)) open.add(rec.service);
    };
    for (const g of this.#conns.draining) scan(g);
    for (const s of this.#listeners.values()) {
      const g = s.group;
      if (!g.foreign) continue;
      let foreign = false;
      for (const rec of g.conns) {
        if (rec.service === s.route.service) continue;
        foreign = true;
        if (this.#retiring.has(rec.service)) open.add(rec.service);
      }
      g.foreign = foreign;
    }
    const retired: ServiceKey[] = [];
    for (const service of this.#retiring) if (!open.has(service)) retired.push(service);
    if (retired.length === 0) return;
    for (const service of retired) this.#retiring.delete(service);
    if (this.#onRetired) this.#onRetired(retired);
    else this.forgetServices(retired);
  }

  /**
   * Removes every series of `services` (connections, bytes, dial failures, no-endpoint
   * rejections, listen failures; the active-connections and listeners gauges are computed at
   * scrape time and lose theirs with the last connection and listener). Skips a service that
   * is in the last snapshot or still retiring: its series go on. A service created again later
   * starts its counters from 0.
   */
  forgetServices(services: Iterable<ServiceKey>): void {
    const m = this.#metrics;
    if (m === null) return;
    for (const service of services) {
      if (this.#services.has(service) || this.#retiring.has(service)) continue;
      const labels = { service };
      m.connections.remove(labels);
      m.dialFailures.remove(labels);
      m.noEndpoints.remove(labels);
      m.listenFailures.remove(labels);
      m.bytes.remove({ service, direction: "in" });
      m.bytes.remove({ service, direction: "out" });
    }
  }

  /**
   * Services that left the snapshot but may still have connections here: their series stay
   * until those have ended.
   */
  get retiring(): ReadonlySet<ServiceKey> {
    return this.#retiring;
  }

  /** Current listeners, bound and failed, for `ctl status`. */
  listeners(): ListenerStatus[] {
    const out: ListenerStatus[] = [];
    for (const s of this.#listeners.values()) {
      out.push(status(s.spec, s.route, null, s.group.conns.size));
    }
    for (const f of this.#failed.values()) out.push(status(f.spec, f.route, f, 0));
    return out.sort((a, b) => a.service.localeCompare(b.service) || a.port - b.port);
  }

  /** Connections accepted since the start (all listeners). */
  get accepted(): number {
    return this.#conns.accepted;
  }

  /**
   * Takes back the share of the connection count of worker `thread`, which is gone (crashed):
   * its connections are no more.
   */
  forgetThreadConnections(thread: number): void {
    this.#gate.forgetThread(thread);
  }

  /** Connections open now (draining ones included). */
  get activeConnections(): number {
    return this.#conns.active;
  }

  /** Applies a passive-health ejection another proxy thread made: skip `key` for `forMs`. */
  applyEjection(key: BackendKey, forMs: number): void {
    this.#health.ejectFor(key, forMs, this.#now());
  }

  /** Endpoints currently ejected by passive health (`"ip:port"`), for status. */
  ejected(): string[] {
    return this.#health.ejected(this.#now());
  }

  /**
   * Stops accepting, closes every listener and connection (no grace), and resolves when all
   * accept loops and connection tasks have ended. Idempotent.
   */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#abort.abort();
      for (const s of this.#listeners.values()) {
        s.group.stopped = true;
        s.listener.close();
        this.#conns.closeGroup(s.group);
      }
      this.#conns.closeDraining();
      this.#listeners.clear();
      this.#failed.clear();
      this.#gate.close();
    }
    await Promise.all(this.#loops);
    if (this.#conns.active > 0) await this.#conns.idle();
    await this.#io.close();
  }

  /** The socket engine this proxy runs on (`proxyEngine`, `auto` resolved). */
  get engine(): ProxyEngine {
    return this.#io.engine;
  }
}

function status(
  spec: ListenerSpec,
  route: Route,
  failed: FailedListener | null,
  connections: number,
): ListenerStatus {
  return {
    vip: spec.vip,
    port: spec.port,
    service: spec.service,
    portName: spec.servicePort.name,
    bound: failed === null,
    error: failed?.error ?? null,
    failure: failed?.failure ?? null,
    connections,
    endpoints: route.balancer.size,
  };
}

/**
 * The `hint` of a listener's bind failure when its port is in use: a VIP is an address only the
 * agent has, so the holder is almost always another program listening on that port of every
 * address (`0.0.0.0`, `::`), such as a gateway's web UI on port 80; without it the line said
 * only `Address in use`. Nothing for other failures.
 */
function listenHint(port: number, err: unknown): { hint?: string } {
  const text = err instanceof Error ? err.message : String(err);
  if (
    !(err instanceof Deno.errors.AddrInUse) &&
    !/\(os error 98\)|address (already )?in use/i.test(text)
  ) {
    return {};
  }
  return {
    hint: `another program listens on port ${port} of every address (0.0.0.0 or ::), the VIP's ` +
      `too (ss -ltnup 'sport = :${port}' names it): bind it to its own addresses or stop it; ` +
      "the listener is tried again every 5 s while it is not open, and with every update",
  };
}
