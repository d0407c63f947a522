// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The agent's DNS step ({@linkcode startDns}): the server on every `dnsListen` address, with its
 * upstreams read from config or resolv.conf before `manageResolvConf` rewrites the file, our
 * nameserver put first in resolv.conf when asked, and the file followed while the agent runs
 * (`ResolvConfWatch`: a new DHCP lease or network). Closed in reverse: the watch stops, then the
 * file is restored, then the server stops, so resolv.conf never names a server that is gone.
 * @module
 */
import type { Config } from "../config/mod.ts";
import {
  createDenoTransport,
  DnsServer,
  nameserverFor,
  ResolvConfManager,
  ResolvConfWatch,
  resolveUpstreams,
} from "../dns/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { MetricsRegistry } from "../metrics/mod.ts";
import type { Snapshot } from "../registry/mod.ts";
import type { FdBudget, Reactor } from "../sys/mod.ts";
import { dnsComponent } from "./components.ts";
import { dnsBindError } from "./dns_bind.ts";
import type { AgentComponent, Closer } from "./reconcile.ts";

/** Options of {@linkcode startDns}. */
export interface StartDnsOptions {
  readonly config: Config;
  /** The registry's state to serve first. */
  readonly snapshot: Snapshot;
  /** Descriptors DNS may hold (TCP clients, upstream sockets), from the open-files limit. */
  readonly fds: Pick<FdBudget, "dnsTcpConnections" | "dnsUpstreamSockets">;
  /** The main thread's epoll loop, for the batched UDP sockets; null without FFI. */
  readonly reactor: Reactor | null;
  readonly log: Logger;
  readonly metrics: MetricsRegistry;
  /** How often resolv.conf is checked, ms (tests). @default RESOLV_CONF_POLL_MS */
  readonly resolvConfPollMs?: number;
  /** Registers the DNS component (reconciled with every snapshot, closed on the way out). */
  readonly use: (component: AgentComponent) => void;
  /** Registers what to undo at shutdown, after the component. */
  readonly onStop: (closer: Closer) => void;
}

/**
 * Starts the DNS step (see the module docs); resolves with the server once it listens and
 * resolv.conf is handled.
 * @throws the server's bind error with the advice of `dns_bind.ts` (port 53 held by another
 *   resolver), or the error of a resolv.conf that cannot be updated
 */
export async function startDns(options: StartDnsOptions): Promise<DnsServer> {
  const { config, log } = options;
  const upstreams = await resolveUpstreams({
    upstreams: config.upstreams,
    resolvConf: config.resolvConf,
    listen: config.dnsListen,
    log,
  });
  const dns = await DnsServer.start({
    listen: config.dnsListen,
    clusterDomain: config.clusterDomain,
    defaultNamespace: config.defaultNamespace,
    ttl: config.dnsTtl,
    snapshot: options.snapshot,
    upstreams,
    allowFrom: config.dnsAllowFrom,
    udpBatching: config.dnsUdpBatching ? undefined : false,
    // DNS holds descriptors for clients and upstreams out of the reserve: bounded by the
    // open-files limit, so a TCP flood cannot reach EMFILE (Deno panics there).
    maxTcpConnections: options.fds.dnsTcpConnections,
    transport: createDenoTransport({ maxSockets: options.fds.dnsUpstreamSockets }),
    ...(options.reactor === null ? {} : { reactor: options.reactor }),
    log,
    metrics: options.metrics,
  }).catch((err) => {
    // Port 53 held by another resolver: name it and the way out (dns_bind.ts).
    throw dnsBindError(err, config.dnsListen, config.device);
  });
  options.use(dnsComponent(dns));
  const nameserver = nameserverFor(config.dnsListen);
  let rc: ResolvConfManager | null = null;
  if (config.manageResolvConf && nameserver !== null) {
    const manager = rc = new ResolvConfManager({ path: config.resolvConf, nameserver, log });
    options.onStop({ name: "resolv.conf", close: () => manager.restore() });
    await manager.apply();
  } else if (config.manageResolvConf) {
    log.warn("manageResolvConf needs a dnsListen address on port 53; resolv.conf untouched");
  }
  // A new DHCP lease or network rewrites resolv.conf: follow it (closed before the restore
  // above, cleanup running in reverse).
  const fromFile = config.upstreams.length === 0;
  if (fromFile || rc !== null) {
    const watch = new ResolvConfWatch({
      path: config.resolvConf,
      target: fromFile ? dns : null,
      listen: config.dnsListen,
      manager: rc,
      log,
    });
    watch.start(options.resolvConfPollMs);
    options.onStop({ name: "resolv.conf watch", close: () => watch.close() });
  }
  return dns;
}
