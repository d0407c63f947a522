// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The proxy's connections: each one accepted on a `VIP:port` listener is dialled to an endpoint
 * of its route (retries and failover: ./dial.ts) and copied both ways by the engine
 * (./engine.ts), or reset when the service has no endpoint to use; the connections of a
 * removed listener are drained (`drainGraceMs`, then reset). Counts them for the connection
 * cap (./gate.ts) and `close()`, which resets them too (see {@linkcode Connections.abort}).
 * @module
 */
import { type Logger, LogRateLimiter } from "../log/mod.ts";
import type { ServiceKey } from "../registry/model.ts";
import { AllDialsFailedError, dialWithFailover, NoEndpointsError } from "./dial.ts";
import { resetQuietly, type UpstreamConn } from "./dialer.ts";
import type { ClientConn, ProxyIo } from "./engine.ts";
import type { ConnGate } from "./gate.ts";
import { type LinkedNode, LinkedSet } from "./linked_set.ts";
import type { ProxyMetrics } from "./metrics.ts";
import type { Route } from "./routes.ts";
import type { SpliceBuffers } from "./splice.ts";

/** Connections of one listener; drained together when the listener goes away. */
export interface ConnGroup {
  /** Not a `Set`: see linked_set.ts (a churning `Set` kept connections alive through GCs). */
  readonly conns: LinkedSet<ConnRecord>;
  timer: ReturnType<typeof setTimeout> | undefined;
  /**
   * Its listener was closed (or the proxy): a connection its accept loop still hands over is
   * reset at once, so nothing is counted for a service after its series were removed.
   */
  stopped: boolean;
  /** Its listener is gone: the group is in `draining` until its last connection has ended. */
  draining: boolean;
  /**
   * Its listener (a VIP:port) passed from one service to another while connections were open,
   * so some of them may belong to a service that is retiring: the proxy looks at them
   * when it checks whether a retiring service still has connections.
   */
  foreign: boolean;
}

export interface ConnRecord {
  readonly client: ClientConn;
  /** The service it was accepted for (a VIP:port may change hands between updates). */
  readonly service: ServiceKey;
  upstream: UpstreamConn | null;
  closed: boolean;
  readonly group: ConnGroup;
  /** Its entry in `group.conns` (set right after the record is made). */
  node: LinkedNode<ConnRecord> | null;
}

/** An empty {@linkcode ConnGroup}, for a new listener. */
export function connGroup(): ConnGroup {
  return {
    conns: new LinkedSet(),
    timer: undefined,
    stopped: false,
    draining: false,
    foreign: false,
  };
}

/** What {@linkcode Connections.accept} reads of a listener: its group and its current route. */
export interface Accepting {
  readonly group: ConnGroup;
  readonly route: Route;
}

/** What {@linkcode Connections} needs of the proxy, resolved (see `ProxyOptions`). */
export interface ConnectionsOptions {
  readonly log: Logger;
  readonly io: ProxyIo;
  readonly gate: ConnGate;
  readonly metrics: ProxyMetrics | null;
  readonly buffers: SpliceBuffers;
  readonly now: () => number;
  /** How long open connections of a removed listener may continue, ms. */
  readonly graceMs: number;
  /** Aborted when the proxy closes (its dials are aborted then, not failing). */
  readonly signal: AbortSignal;
  /** Told when the last connection of a draining group has ended. */
  readonly onDrained: () => void;
}

/** The open connections of one proxy, by listener group, and those of draining groups. */
export class Connections {
  readonly #log: Logger;
  readonly #io: ProxyIo;
  readonly #gate: ConnGate;
  readonly #metrics: ProxyMetrics | null;
  readonly #buffers: SpliceBuffers;
  readonly #graceMs: number;
  readonly #signal: AbortSignal;
  readonly #onDrained: () => void;
  /** One "cannot reach any endpoint" warning per service and minute (failure path only). */
  readonly #unreachable: LogRateLimiter;
  readonly #draining = new Set<ConnGroup>();
  #active = 0;
  #accepted = 0;
  #idle: PromiseWithResolvers<void> | null = null;

  constructor(options: ConnectionsOptions) {
    this.#log = options.log;
    this.#io = options.io;
    this.#gate = options.gate;
    this.#metrics = options.metrics;
    this.#buffers = options.buffers;
    this.#graceMs = options.graceMs;
    this.#signal = options.signal;
    this.#onDrained = options.onDrained;
    this.#unreachable = new LogRateLimiter({ now: options.now });
  }

  /**
   * Takes a connection `state`'s accept loop handed over: counts it in its group and the
   * connection cap, then forwards it (reset at once when the listener has stopped).
   */
  accept(client: ClientConn, state: Accepting): void {
    if (state.group.stopped) {
      // Accepted as its listener closed: not served, so rejected as one without endpoints.
      this.#io.reject(client);
      return;
    }
    const rec: ConnRecord = {
      client,
      service: state.route.service,
      upstream: null,
      closed: false,
      group: state.group,
      node: null,
    };
    rec.node = state.group.conns.add(rec);
    this.#gate.acquire();
    this.#active++;
    this.#accepted++;
    this.#handle(rec, state.route);
  }

  async #handle(rec: ConnRecord, route: Route): Promise<void> {
    const m = this.#metrics;
    const { client } = rec;
    m?.connections.inc(route.labels);
    try {
      if (route.balancer.size === 0) {
        m?.noEndpoints.inc(route.labels);
        if (this.#log.enabled("debug")) {
          this.#log.debug(
            route.empty === "no-local-endpoints"
              ? "No local endpoints (internalTrafficPolicy Local), resetting client"
              : "No ready endpoints, resetting client",
            { service: route.service },
          );
        }
        this.#reject(rec);
        return;
      }
      const clientIp = route.balancer.sticky ? client.remoteAddr.hostname : "";
      let upstream: UpstreamConn;
      try {
        upstream = (await dialWithFailover(
          route.balancer,
          route.service,
          route.servicePort.port,
          clientIp,
          route.failover,
        )).conn;
      } catch (err) {
        if (err instanceof NoEndpointsError) m?.noEndpoints.inc(route.labels);
        else if (err instanceof AllDialsFailedError) this.#warnUnreachable(route, err);
        if (this.#log.enabled("debug")) {
          this.#log.debug("Cannot reach any endpoint, resetting client", {
            service: route.service,
            error: err,
          });
        }
        this.#reject(rec);
        return;
      }
      if (rec.closed) {
        // Drained or shut down while dialling: the endpoint sees the abort.
        resetQuietly(upstream);
        return;
      }
      rec.upstream = upstream;
      const r = await this.#io.copy(client, upstream, this.#buffers);
      // copy() closed both: closing again would throw (and build) a BadResource error each.
      rec.closed = true;
      if (m) {
        m.bytes.inc(route.labelsIn, r.bytesIn);
        m.bytes.inc(route.labelsOut, r.bytesOut);
      }
    } catch (err) {
      this.#log.error("Connection failed unexpectedly", { service: route.service, error: err });
    } finally {
      this.abort(rec);
      this.#done(rec);
    }
  }

  /**
   * Ends a client the proxy cannot serve with a reset where the engine can (see
   * {@linkcode ProxyIo.reject}), unless it was closed meanwhile (drain, `close()`).
   */
  #reject(rec: ConnRecord): void {
    if (rec.closed) return;
    rec.closed = true;
    this.#io.reject(rec.client);
  }

  /**
   * Every dial of a connection failed although the service has endpoints: an operator must
   * see it at the default level, once per service and minute (the count of connections left
   * out comes with the next line); each connection's detail stays at debug. Not when the
   * proxy is closing (its dials are aborted, not failing).
   */
  #warnUnreachable(route: Route, err: AllDialsFailedError): void {
    if (this.#signal.aborted || err.errors.length === 0) return;
    const last = err.errors[err.errors.length - 1];
    this.#unreachable.warn(
      this.#log,
      route.service,
      "Cannot reach any endpoint of a service, resetting client connections",
      {
        service: route.service,
        port: route.servicePort.port,
        endpoints: route.balancer.size,
        attempts: err.errors.length,
        error: last,
      },
    );
  }

  /**
   * Cuts `rec` (drain expiry, `close()`, an unexpected failure) unless it is closed already:
   * both ends are reset where the engine can ({@linkcode resetQuietly}), so neither the client
   * nor the endpoint takes the cut for the end of a complete transfer. The copy sees its sides
   * closed and ends. With the `deno` engine a `Deno.TcpConn` side gets a FIN (no `SO_LINGER`).
   */
  abort(rec: ConnRecord): void {
    if (rec.closed) return;
    rec.closed = true;
    resetQuietly(rec.client);
    if (rec.upstream) resetQuietly(rec.upstream);
  }

  #done(rec: ConnRecord): void {
    const g = rec.group;
    g.conns.remove(rec.node!);
    if (g.draining && g.conns.size === 0) {
      clearTimeout(g.timer);
      g.timer = undefined;
      this.#draining.delete(g);
      // The last connection of a removed listener: its counts are in (a connection adds its
      // bytes before it gets here), so its service may retire now.
      this.#onDrained();
    }
    this.#gate.release();
    if (--this.#active === 0 && this.#idle) this.#idle.resolve();
  }

  /**
   * Gives the open connections of a stopped listener (`service` on `addr`) `drainGraceMs`, then
   * resets them ({@linkcode abort}); the group stays in {@linkcode draining} until the last one
   * has ended (see {@linkcode #done}).
   */
  drain(g: ConnGroup, service: ServiceKey, addr: string): void {
    if (g.conns.size === 0) return;
    this.#log.info("Draining connections of a removed service port", {
      service,
      addr,
      connections: g.conns.size,
      graceSeconds: this.#graceMs / 1000,
    });
    g.draining = true;
    this.#draining.add(g);
    g.timer = setTimeout(() => {
      g.timer = undefined;
      for (const rec of g.conns) this.abort(rec);
    }, this.#graceMs);
  }

  /** Groups of removed listeners that still have connections. */
  get draining(): ReadonlySet<ConnGroup> {
    return this.#draining;
  }

  /** Connections open now (draining ones included). */
  get active(): number {
    return this.#active;
  }

  /** Connections accepted since the start (all listeners). */
  get accepted(): number {
    return this.#accepted;
  }

  /** Resets every connection of `g` (no grace: the proxy is closing). */
  closeGroup(g: ConnGroup): void {
    for (const rec of g.conns) this.abort(rec);
  }

  /** Resets the connections of every draining group (no grace) and forgets the groups. */
  closeDraining(): void {
    for (const g of this.#draining) {
      clearTimeout(g.timer);
      g.timer = undefined;
      for (const rec of g.conns) this.abort(rec);
    }
    this.#draining.clear();
  }

  /** Resolves once no connection is open (at once when none is). */
  idle(): Promise<void> {
    if (this.#active === 0) return Promise.resolve();
    this.#idle ??= Promise.withResolvers();
    return this.#idle.promise;
  }
}
