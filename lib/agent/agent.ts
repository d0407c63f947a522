// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The agent: opens the registry (persisted state first, so services are served on their old
 * VIPs before any sender reconnects), claims the control socket (a second agent refuses to
 * start before touching the device), brings up the device, proxy, DNS and tunnel, then feeds
 * them registry snapshots; everything is torn down in reverse on the abort signal.
 * @module
 */
import { type Config, METRICS_SOCKET_SUFFIX, proxyThreadCount } from "../config/mod.ts";
import { ControlServer } from "../control/mod.ts";
import type { Logger } from "../log/mod.ts";
import { MetricsRegistry, serveMetrics } from "../metrics/mod.ts";
import { checkSubnet, denoExec, type Exec, NetDev } from "../netdev/mod.ts";
import { parseCidr } from "../netaddr/mod.ts";
import { proxyLimits, ProxyThreads } from "../proxy/mod.ts";
import { Registry } from "../registry/mod.ts";
import {
  fdBudget,
  type InterfaceAddress,
  interfaceAddresses,
  libc,
  raiseOpenFilesLimit,
  Reactor,
  trimMallocHeap,
} from "../sys/mod.ts";
import { logTunnelOff, planTunnel } from "../tunnel/plan.ts";
import { buildInfo, VERSION } from "../cli/mod.ts";
import {
  dnsAddressesOnDevice,
  netdevComponent,
  proxyComponent,
  tunnelComponent,
} from "./components.ts";
import { startDns } from "./dns_setup.ts";
import { startHeapTrim } from "./heap_trim.ts";
import { type DeviceWatch, startDeviceWatch } from "./device_watch.ts";
import { startListenerRetry } from "./listener_retry.ts";
import { nodeAddressesIn, nodeVipGuard } from "./node_vips.ts";
import { startStateRetry } from "./state_retry.ts";
import { boundAddress, startListenAddressWatch } from "./listen_watch.ts";
import {
  NO_NOTIFIER,
  progressExec,
  readyStatus,
  type ServiceNotifier,
  startNotify,
} from "./notify.ts";
import type { IntervalTimers } from "./heap_trim.ts";
import { type AgentComponent, type Closer, Reconciler } from "./reconcile.ts";
import { buildStatus } from "./status.ts";

/**
 * The periodic full reconcile (kube-proxy's `syncPeriod` default): re-reads the device's
 * addresses and retries listener binds that failed, even when no change arrives.
 */
export const RESYNC_MS = 30_000;

/** How much longer than `drainGraceMs` the VIP of a deleted service stays on the device, ms. */
const VIP_HOLD_MARGIN_MS = 2_000;

/** Options of {@linkcode runAgent}. */
export interface AgentOptions {
  readonly config: Config;
  readonly log: Logger;
  /** Aborting stops the agent; `runAgent` resolves once everything is closed. */
  readonly signal: AbortSignal;
  /** Shared metrics (rendered by the metrics server). @default a new registry */
  readonly metrics?: MetricsRegistry;
  /** Clock. @default {Date.now} */
  readonly now?: () => number;
  /** Called once everything is up (tests, readiness). */
  readonly onReady?: () => void;
  /**
   * Tells the service manager when the agent is ready and stopping, and pings its watchdog
   * (`sd_notify(3)`; `main.ts` passes `systemdNotifier()`, see notify.ts). @default NO_NOTIFIER
   */
  readonly notifier?: ServiceNotifier;
  /** The timers of the notifier's pings and start-up extensions (tests). @default globalThis */
  readonly notifyTimers?: IntervalTimers;
  /** How `ip` runs. @default denoExec */
  readonly exec?: Exec;
  /**
   * The IPv4 addresses on the device, for the device watch; a fake `ip` brings its own.
   * @default listedAddresses (device_watch.ts)
   */
  readonly deviceAddresses?: (device: string) => ReadonlySet<string>;
  /**
   * Whether the device is up (null: cannot tell), for the device watch; a fake `ip` brings
   * its own. @default interfaceUp (lib/sys/netif.ts)
   */
  readonly deviceUp?: (device: string) => boolean | null;
  /**
   * The node's interface list, read at start and at each device-watch look: its addresses in
   * the VIP subnet (other than the device's) are never handed out as new VIPs.
   * @default interfaceAddresses (lib/sys/netif.ts)
   */
  readonly interfaces?: () => readonly InterfaceAddress[];
  /** How often resolv.conf is checked for changes, ms (tests). @default RESOLV_CONF_POLL_MS */
  readonly resolvConfPollMs?: number;
}

/**
 * Runs the agent until `signal` aborts.
 * @throws when start-up fails (state unreadable, control socket in use, `ip` failing, a bad
 *   tunnel key, a DNS address that cannot be bound, …); everything started so far is closed first
 */
export async function runAgent(opts: AgentOptions): Promise<void> {
  const { config, log, signal } = opts;
  const now = opts.now ?? Date.now;
  const metrics = opts.metrics ?? new MetricsRegistry();
  const startedAt = now();
  const cleanup: Closer[] = [];
  const components: AgentComponent[] = [];
  const use = (c: AgentComponent) => {
    components.push(c);
    cleanup.push(c);
  };

  const build = buildInfo();
  const commitInfo = build.commit === null || build.source === null ? undefined : {
    commit: build.commit,
    source: build.source,
    ...(build.dirty === null ? {} : { dirty: build.dirty }),
  };
  log.info("agent starting", {
    version: VERSION,
    ...(commitInfo ? { commit: build.commit, commitSource: build.source } : {}),
    node: config.nodeName,
    subnet: config.subnet,
    stateDir: config.stateDir,
  });
  // Never EMFILE (Deno's HTTP server crashes, Deno itself may panic there): the open-files
  // limit is raised to its hard limit and shared out among the components that hold
  // descriptors for peers (lib/sys/fd_limits.ts).
  const fdLimit = raiseOpenFilesLimit();
  const fds = fdBudget(fdLimit.soft);
  const proxyThreadsWanted = proxyThreadCount(config.proxyThreads, navigator.hardwareConcurrency);
  const limits = proxyLimits(fds, proxyThreadsWanted);
  (fdLimit.known ? log.info : log.warn).call(log, "open files limit", {
    limit: fdLimit.soft,
    ...(fdLimit.known ? {} : { assumed: true, why: "cannot read it without FFI" }),
    ...(fdLimit.raisedFrom !== null ? { raisedFrom: fdLimit.raisedFrom } : {}),
    proxyConnections: limits.maxConnections,
    listenersPerThread: limits.maxListeners,
    tunnelConnections: fds.tunnelConnections,
    metricsConnections: fds.metricsConnections,
    dnsTcpConnections: fds.dnsTcpConnections,
    dnsUpstreamSockets: fds.dnsUpstreamSockets,
  });
  // A stop signal during start-up skips the steps not yet begun (binding every listener, DNS,
  // the first reconcile, READY=1): with thousands of services they take tens of seconds, and
  // the agent used to finish them, log `agent ready` and only then stop.
  let stoppedEarly = false;
  const stopRequested = (): boolean => {
    if (!signal.aborted) return false;
    stoppedEarly = true;
    log.info("agent stopping", { ready: false });
    return true;
  };
  try {
    if (signal.aborted) return;
    // Starting now, READY=1 below, STOPPING=1 as soon as `signal` aborts; closed last.
    // While start-up makes progress, systemd's start timeout is extended (EXTEND_TIMEOUT_USEC):
    // tens of thousands of VIPs take about a minute to put on the device.
    const notify = startNotify({
      notifier: opts.notifier ?? NO_NOTIFIER,
      signal,
      ...(opts.notifyTimers ? { timers: opts.notifyTimers } : {}),
    });
    cleanup.push(notify);
    notify.progress("loading the state");
    // The node's own addresses in the subnet are read before the registry restores anything:
    // a service restored without a VIP is given one, and it must not be one of them.
    const interfaces = opts.interfaces ?? interfaceAddresses;
    const startInterfaces = interfaces();
    const registry = await Registry.open({
      stateDir: config.stateDir,
      subnet: config.subnet,
      log: log.with("registry"),
      metrics,
      now,
      reserved: nodeAddressesIn(
        startInterfaces,
        config.device,
        parseCidr(config.subnet, { family: 4 }),
      ).keys(),
    });
    cleanup.push({ name: "registry", close: () => registry.close() });
    // Restored VIPs another interface also holds are kept and said once each (node_vips.ts);
    // the device watch's looks below keep the reserved addresses current.
    const nodeVips = nodeVipGuard({
      device: config.device,
      subnet: config.subnet,
      registry,
      log: log.with("registry"),
    });
    nodeVips.look(startInterfaces);
    // A state disk that was full or read-only and is fine again clears `stateWriteError`
    // within seconds, not at the next change (state_retry.ts).
    cleanup.push(startStateRetry({
      failing: () => registry.writeError !== null,
      retry: () => registry.retryWrite(),
    }));
    const rs = registry.status();
    log.info("registry loaded", { services: rs.services, nodes: rs.nodes, vips: rs.pool.used });

    // Readiness (`/readyz`): device up, every listener bound, control socket up, and the
    // first reconcile done (the persisted state, or the first sync, is being served).
    let reconciler: Reconciler | null = null;
    let initialVersion = Infinity;
    let proxy: ProxyThreads | null = null;
    let controlUp = false;
    let lastSync: number | null = null;
    let lastMessage: number | null = null;
    let deviceUp = false;
    let deviceWatch: DeviceWatch | null = null;

    // The control socket first: a second agent must refuse to start before it touches the
    // device or ports the first one owns. Messages arriving before the modules are up are
    // applied to the registry and reconciled with the first snapshot below.
    const server = await ControlServer.listen({
      path: config.controlSocket,
      // Every change request is noted before the registry sees it: `unchanged` resyncs move
      // `lastMessage` though they leave `lastSync` (a change of the registry) where it was.
      target: {
        apply: (change) => {
          lastMessage = now();
          return registry.apply(change);
        },
        snapshot: () => registry.snapshot(),
      },
      status: () =>
        buildStatus({
          config,
          version: VERSION,
          ...(commitInfo ? { build: commitInfo } : {}),
          snapshot: registry.snapshot(),
          components,
          startedAt,
          lastSync,
          lastMessage,
          reconciledVersion: reconciler?.appliedVersion ?? -1,
          reconcileFailures: reconciler?.failures ?? [],
          stateWarning: registry.loadWarning,
          stateWriteError: registry.writeError,
          vipConflicts: nodeVips.conflicts(),
        }),
      log: log.with("control"),
      metrics,
    });
    cleanup.push({ name: "control", close: () => server.close() });
    controlUp = true;

    if (config.metricsListen !== "") {
      const stopMetrics = new AbortController();
      const srv = serveMetrics({
        listen: config.metricsListen,
        registry: metrics,
        version: VERSION,
        ...(build.commit === null ? {} : { commit: build.commit }),
        log: log.with("metrics"),
        signal: stopMetrics.signal,
        refresh: () => proxy?.refreshMetrics(500) ?? Promise.resolve(),
        // Capped and timed out (Deno.serve has neither): behind a front, served on a Unix
        // socket beside the control socket (the 0700 runtime directory), named after it: two
        // agents sharing the directory have distinct control sockets, so distinct ones.
        front: {
          socketPath: `${config.controlSocket}${METRICS_SOCKET_SUFFIX}`,
          maxConnections: fds.metricsConnections,
        },
        ready: () => {
          // A failed pass fails `sync` (and `device` when the device was what failed) until
          // a retry succeeds: an acknowledged change that is not live is not ready.
          const failed = reconciler?.failures ?? [];
          const checks = {
            device: deviceUp && !failed.some((f) => f.component === "netdev") &&
              (deviceWatch?.damage() ?? null) === null,
            listeners: proxy !== null && proxy.listeners().every((l) => l.bound),
            control: controlUp,
            sync: reconciler !== null && reconciler.appliedVersion >= initialVersion &&
              failed.length === 0,
          };
          return { ready: Object.values(checks).every(Boolean), checks };
        },
      });
      cleanup.push({
        name: "metrics",
        close: () => {
          stopMetrics.abort();
          return srv.finished;
        },
      });
    }

    // ── Modules, updated in this order with every snapshot ─────────────────────────────
    // 1. netdev: VIP addresses must exist before the proxy binds them.
    const netdev = new NetDev({
      device: config.device,
      deviceType: config.deviceType,
      subnet: config.subnet,
      keepDeviceOnExit: config.keepDeviceOnExit,
      // A deleted service's VIP stays while the proxy drains its connections, and a little
      // longer, so the proxy's closes at the end of the grace still reach the clients.
      retainRemovedMs: config.drainGraceMs + VIP_HOLD_MARGIN_MS,
      // Each `ip` command that finishes is start-up progress.
      exec: progressExec(opts.exec ?? denoExec, () => notify.progress()),
      log: log.with("netdev"),
      metrics,
      // A stop stops an address pass between its `ip` batches: tens of thousands of VIPs take
      // a minute, on a device the exit path deletes. What it added is teardown's to remove.
      signal,
    });
    const netdevC = netdevComponent(netdev, dnsAddressesOnDevice(config));
    use(netdevC); // registered before ensure() so a half-made device is removed on failure
    // A second agent on this device is refused first, before it binds anything of its own.
    netdev.claim();

    // 4, started before the device is touched (the proxy dials through it, and an unusable key
    // or TLS file refuses the start with nothing to undo). Off without a key file. The tunnel
    // module (node:http2 and node:crypto, ~8 MiB resident) is imported only when it can run.
    const tunnelPlan = planTunnel(config);
    if (tunnelPlan.mode === "off") logTunnelOff(tunnelPlan, log.with("tunnel"));
    const tunnelMod = tunnelPlan.mode === "on" ? await import("../tunnel/mod.ts") : null;
    const tunnel = tunnelMod === null ? null : await tunnelMod.startTunnel(config, {
      log: log.with("tunnel"),
      metrics,
      // Only an injected clock (tests): by default the tunnel signs on the wall clock and
      // times its backoff on the monotonic one.
      ...(opts.now ? { now: opts.now } : {}),
      // Capped behind a front (lib/sys/http_front.ts), as the metrics port.
      maxConnections: fds.tunnelConnections,
    });
    if (tunnel) cleanup.push({ name: "tunnel", close: () => tunnel.close() });

    notify.progress(`device ${config.device} and its addresses`);
    await netdev.ensure();
    // Said at start: a subnet overlapping the node's network breaks nothing visibly.
    await checkSubnet({
      exec: opts.exec ?? denoExec,
      subnet: parseCidr(config.subnet, { family: 4 }),
      device: config.device,
      log: log.with("netdev"),
    });
    // The DNS address (and persisted VIPs) go on now so the DNS server can bind at start.
    try {
      await netdevC.update(registry.snapshot(), { resync: true });
    } catch (err) {
      if (stopRequested()) return; // stopped between batches (ReconcileStoppedError)
      throw err;
    }
    deviceUp = true;
    if (stopRequested()) return;

    // One epoll loop for the main thread's own sockets: the proxy's (`epoll` engine) and the
    // DNS server's batched UDP sockets wait on it together (lib/sys/reactor.ts). Closed after
    // both (cleanup runs in reverse).
    const c = libc();
    const reactor = c === null
      ? null
      : Reactor.open(c, (error) => log.error("Event loop error", { error }));
    if (reactor !== null) cleanup.push({ name: "event loop", close: () => reactor.close() });

    // 2. proxy: listeners per VIP:port; remote endpoints through the tunnel when it is on.
    // On `proxyThreads` threads: workers share the listeners (SO_REUSEPORT), see threads.ts.
    // The same tuning on every thread: the main thread's proxy and each worker's.
    const proxyTuning = {
      nodeName: config.nodeName,
      lbStrategy: config.lbStrategy,
      dialTimeoutMs: config.dialTimeoutMs,
      dialAttempts: config.dialAttempts,
      ejectCooldownMs: config.ejectCooldownMs,
      drainGraceMs: config.drainGraceMs,
      engine: config.proxyEngine,
      limits,
    } as const;
    notify.progress("proxy");
    proxy = await ProxyThreads.start({
      threads: proxyThreadsWanted,
      // `auto`: the workers start when the proxy keeps the main thread busy (an idle node does
      // not pay for them); a number asks for them at once.
      startWorkers: config.proxyThreads === "auto" ? "when-busy" : "now",
      proxy: {
        ...proxyTuning,
        log: log.with("proxy"),
        metrics,
        ...(reactor === null ? {} : { reactor }),
        // Tunnel off: every route is local or direct, which the engine's dialer does.
        ...(tunnelMod === null ? {} : {
          remoteDialer: (local) =>
            tunnelMod.createRoutingDialer({
              nodeName: config.nodeName,
              direct: local,
              tunnel: tunnel?.dialer ?? null,
            }),
        }),
        // Only an injected clock (tests): by default the proxy's durations (affinity,
        // ejection) run on the monotonic clock, as its worker threads' do.
        ...(opts.now ? { now: opts.now } : {}),
      },
      worker: {
        ...proxyTuning,
        logLevel: config.logLevel,
        tunnel: tunnel === null ? null : {
          nodeName: config.nodeName,
          tunnel: config.tunnel,
          tunnelKeyFile: config.tunnelKeyFile,
          tunnelAcceptKeyFiles: config.tunnelAcceptKeyFiles,
          tunnelTLS: config.tunnelTLS,
          tunnelListen: config.tunnelListen,
          peers: config.peers,
        },
      },
    });
    use(proxyComponent(proxy));
    if (stopRequested()) return;

    // 3. DNS, with resolv.conf managed and followed (dns_setup.ts).
    if (config.dnsListen.length > 0) {
      notify.progress("DNS");
      await startDns({
        config,
        snapshot: registry.snapshot(),
        fds,
        reactor,
        log: log.with("dns"),
        metrics,
        ...(opts.resolvConfPollMs === undefined ? {} : { resolvConfPollMs: opts.resolvConfPollMs }),
        use,
        onStop: (c) => cleanup.push(c),
      });
    }

    if (tunnel) {
      // Bound to one address: said when the node loses it (peers cannot reach us then).
      const listenWatch = boundAddress(config.tunnelListen) === null
        ? null
        : startListenAddressWatch({ listen: config.tunnelListen, log: log.with("tunnel") });
      if (listenWatch) cleanup.push(listenWatch);
      components.push(tunnelComponent(tunnel, listenWatch)); // closed by its cleanup entry above
    }
    if (stopRequested()) return;
    // ─────────────────────────────────────────────────────────────────────────────────────

    const rec = new Reconciler(components, log.with("reconcile"), {
      resyncMs: RESYNC_MS,
      signal,
    });
    reconciler = rec;
    cleanup.push({ name: "reconciler", close: () => rec.stop() });
    // A deleted or downed device, or a removed address, is noticed within seconds and
    // repaired by a full pass.
    const watch = startDeviceWatch({
      device: config.device,
      wanted: () => netdev.addresses(),
      onDamage: () => rec.resync(),
      // The same look keeps new VIPs off the node's own addresses (node_vips.ts).
      interfaces,
      onInterfaces: (list) => nodeVips.look(list),
      ...(opts.deviceAddresses ? { listed: opts.deviceAddresses } : {}),
      ...(opts.deviceUp ? { up: opts.deviceUp } : {}),
      log: log.with("netdev"),
    });
    deviceWatch = watch;
    cleanup.push(watch);
    // A service port another program held is opened within seconds of being freed, not at the
    // next 30 s resync.
    cleanup.push(startListenerRetry({
      bindFailed: () => proxy?.listeners().some((l) => l.failure === "bind") ?? false,
      retry: () => rec.resync(),
    }));
    const unsubscribe = registry.subscribe((snapshot) => {
      lastSync = now();
      rec.push(snapshot);
    });
    cleanup.push({ name: "subscription", close: unsubscribe });
    // Freed C heap memory back to the kernel every 10 s (heap_trim.ts).
    cleanup.push(startHeapTrim({ trim: trimMallocHeap, log: log.with("memory") }));
    const first = registry.snapshot();
    notify.progress("first reconcile");
    initialVersion = first.version;
    rec.push(first);
    await rec.settled(first.version);
    if (stopRequested()) return;

    log.info("agent ready", {
      controlSocket: config.controlSocket,
      dns: config.dnsListen.join(","),
      tunnel: tunnel ? config.tunnelListen : "off",
      proxy: `${proxy.engine} sockets`,
    });
    notify.ready(readyStatus(config));
    opts.onReady?.();
    await aborted(signal);
    log.info("agent stopping");
  } finally {
    for (const c of cleanup.reverse()) {
      try {
        await c.close();
      } catch (err) {
        log.error("cannot stop cleanly", { component: c.name, error: err });
      }
    }
    if (stoppedEarly) log.info("agent stopped");
  }
  log.info("agent stopped");
}

function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener("abort", () => resolve(), { once: true })
  );
}
