// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The DNS server shell: UDP and TCP sockets on every `dnsListen` address, a handler in between.
 *
 * The UDP sockets and their loops are in `udp_server.ts`, the TCP connections (RFC 7766
 * framing, idle timeout, connection bounds) in `tcp_server.ts`; this file binds the addresses,
 * starts and closes them, swaps zones and upstreams in, and moves the per-packet counts into
 * the metrics registry.
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { nullLogger } from "../log/mod.ts";
import type { MetricsRegistry } from "../metrics/mod.ts";
import { EMPTY_SNAPSHOT, type Snapshot } from "../registry/model.ts";
import { AllowList, DEFAULT_DNS_ALLOW_FROM } from "./allow.ts";
import { Forwarder } from "./forward.ts";
import { parseHostPort, type Upstream } from "./nameservers.ts";
import type { UpstreamTransport } from "./transport.ts";
import { DnsHandler } from "./handler.ts";
import { DnsMetrics } from "./metrics.ts";
import { MmsgSocket } from "./mmsg.ts";
import type { Reactor } from "../sys/reactor.ts";
import { ServerTasks } from "./tasks.ts";
import { TcpConnections } from "./tcp_server.ts";
import {
  batchedLoop,
  bindUdp,
  closeUdp,
  udpLoop,
  type UdpServing,
  type UdpSocket,
} from "./udp_server.ts";
import { buildZone, type Zone, type ZoneOptions } from "./zone.ts";

/**
 * How often the node's own addresses are re-read for `dnsAllowFrom`'s `node`, ms (as often as
 * the device watch looks at the interfaces): a DHCP lease with a new address changes no registry
 * object, so re-reading them only with zone updates left a client on the new address REFUSED
 * until the next Service change.
 */
export const NODE_ADDRESS_POLL_MS = 5_000;

/** Options of {@linkcode DnsServer.start}. */
export interface DnsServerOptions extends ZoneOptions {
  /**
   * Config `dnsListen`: `host:port` (`[v6]:port`) addresses; UDP and TCP bind the same port.
   * Port 0 picks a free port, read it back from {@linkcode DnsServer.addresses}.
   */
  readonly listen: readonly string[];
  /** The registry state to serve first. @default EMPTY_SNAPSHOT */
  readonly snapshot?: Snapshot;
  /**
   * Upstream resolvers, tried in order; empty → no forwarding (REFUSED for other names).
   * Use `resolveUpstreams()` (upstreams.ts) to apply config `upstreams`/`resolvConf`; change them
   * later with {@linkcode DnsServer.setUpstreams}.
   * @default []
   */
  readonly upstreams?: readonly (Upstream | string)[];
  /** Config `dnsAllowFrom`. @default DEFAULT_DNS_ALLOW_FROM */
  readonly allowFrom?: readonly string[];
  /** Resolves the "node" keyword of `allowFrom`. @default the interfaces' addresses */
  readonly nodeAddresses?: () => readonly string[];
  /**
   * How often the node's addresses are re-read for the "node" keyword of `allowFrom`, ms
   * (besides at every {@linkcode DnsServer.update}); 0: only then. @default NODE_ADDRESS_POLL_MS
   */
  readonly nodeAddressPollMs?: number;
  /** Per-upstream attempt timeout, ms. @default 2000 */
  readonly forwardTimeoutMs?: number;
  /** Forwarding cache entries. @default 10000 */
  readonly cacheSize?: number;
  /** Close a TCP connection idle this long, ms (RFC 7766 §6.2.3). @default 10000 */
  readonly tcpIdleTimeoutMs?: number;
  /**
   * Concurrent receive loops per UDP socket, each with its own buffers: while one awaits its
   * send, another is already receiving. @default 4
   */
  readonly udpLoops?: number;
  /**
   * Receive and send UDP in batches with `recvmmsg`/`sendmmsg` (Linux, needs `--allow-ffi`);
   * `udpLoops` does not apply then. @default true when available ({@linkcode MmsgSocket.available})
   */
  readonly udpBatching?: boolean;
  /**
   * The thread's epoll loop (the agent shares the main thread's with the proxy): batched UDP
   * sockets wait on it instead of on a blocking thread (see ./mmsg.ts). @default none
   */
  readonly reactor?: Reactor;
  /**
   * Open TCP connections at most. A new one beyond it closes the connection idle the longest
   * (no query outstanding, RFC 7766 §6.2.3), or is closed itself when none is idle. @default 256
   */
  readonly maxTcpConnections?: number;
  /**
   * Open TCP connections per client address at most (RFC 7766 §6.2.2); a client's new one
   * beyond it closes that client's connection idle the longest, or is closed itself when none
   * of them is idle. @default 16
   */
  readonly maxTcpConnectionsPerClient?: number;
  /** Clock for the cache, ms. @default monotonicNow (lib/sys/clock.ts) */
  readonly now?: () => number;
  /** How forwarded queries travel (tests). @default real sockets */
  readonly transport?: UpstreamTransport;
  /** @default {nullLogger} */
  readonly log?: Logger;
  /** Registers the `edgemesh_dns_*` metrics. */
  readonly metrics?: MetricsRegistry;
  /** How often per-packet counts are moved into `metrics`, ms. @default 1000 */
  readonly metricsFlushMs?: number;
  /** Aborting it closes the server. */
  readonly signal?: AbortSignal;
}

/** What `edgemesh ctl status` shows about DNS. */
export interface DnsServerStatus {
  /** Bound addresses, `host:port` (UDP and TCP). */
  readonly listening: readonly string[];
  readonly clusterDomain: string;
  /** Registry snapshot version the zone was built from. */
  readonly zoneVersion: number;
  /** Names in the zone index (FQDNs and reverse names). */
  readonly names: number;
  readonly upstreams: readonly string[];
  readonly cacheEntries: number;
  readonly tcpConnections: number;
  /** How UDP is served: `batched` (`recvmmsg`/`sendmmsg`) or `plain` (`Deno.listenDatagram`). */
  readonly udp: "batched" | "plain";
}

interface Bound {
  readonly udp: UdpSocket;
  readonly tcp: Deno.TcpListener;
  readonly addr: Upstream;
}

function formatAddr(a: Upstream): string {
  return a.hostname.includes(":") ? `[${a.hostname}]:${a.port}` : `${a.hostname}:${a.port}`;
}

function bindOne(addr: Upstream, batched: boolean): Bound {
  // Port 0: bind UDP first, then TCP on the port UDP got; retry if that port is taken for TCP.
  for (let attempt = 0;; attempt++) {
    const { udp, port } = bindUdp(addr, batched);
    try {
      const tcp = Deno.listen({ transport: "tcp", hostname: addr.hostname, port });
      return { udp, tcp, addr: { hostname: addr.hostname, port } };
    } catch (err) {
      closeUdp(udp);
      if (addr.port !== 0 || attempt >= 8 || !(err instanceof Deno.errors.AddrInUse)) throw err;
    }
  }
}

/** The cluster DNS server. Start it with {@linkcode DnsServer.start}. */
export class DnsServer {
  readonly #bound: Bound[];
  readonly #handler: DnsHandler;
  readonly #forwarder: Forwarder;
  readonly #metrics: DnsMetrics;
  readonly #log: Logger;
  readonly #zoneOptions: ZoneOptions;
  readonly #abort = new AbortController();
  readonly #tasks: ServerTasks;
  readonly #tcp: TcpConnections;
  readonly #flushTimer: ReturnType<typeof setInterval>;
  readonly #nodeTimer: ReturnType<typeof setInterval> | null;
  readonly #loops: Promise<unknown>;
  readonly #onOuterAbort: () => void;
  readonly #outerSignal: AbortSignal | undefined;
  #closing: Promise<void> | null = null;

  private constructor(bound: Bound[], options: DnsServerOptions) {
    this.#bound = bound;
    this.#log = options.log ?? nullLogger;
    this.#tasks = new ServerTasks(this.#log);
    this.#zoneOptions = {
      clusterDomain: options.clusterDomain,
      defaultNamespace: options.defaultNamespace,
      ttl: options.ttl,
    };
    this.#metrics = new DnsMetrics(options.metrics);
    const upstreams = (options.upstreams ?? []).map((u) =>
      typeof u === "string" ? parseHostPort(u) : u
    );
    // Also with no upstream yet: resolv.conf may name one later (setUpstreams).
    this.#forwarder = new Forwarder({
      upstreams,
      timeoutMs: options.forwardTimeoutMs,
      cacheSize: options.cacheSize,
      now: options.now,
      transport: options.transport,
      signal: this.#abort.signal,
      log: this.#log,
    });
    this.#handler = new DnsHandler({
      zone: buildZone(options.snapshot ?? EMPTY_SNAPSHOT, this.#zoneOptions),
      forwarder: this.#forwarder,
      allow: new AllowList(options.allowFrom ?? DEFAULT_DNS_ALLOW_FROM, {
        nodeAddresses: options.nodeAddresses,
      }),
      metrics: this.#metrics,
      log: this.#log,
    });
    const serving: UdpServing = {
      handler: this.#handler,
      tasks: this.#tasks,
      log: this.#log,
      signal: this.#abort.signal,
    };
    this.#tcp = new TcpConnections({
      ...serving,
      idleMs: options.tcpIdleTimeoutMs ?? 10_000,
      maxConnections: Math.max(1, options.maxTcpConnections ?? 256),
      maxPerClient: Math.max(1, options.maxTcpConnectionsPerClient ?? 16),
      now: options.now,
    });
    this.#flushTimer = setInterval(() => this.flushMetrics(), options.metricsFlushMs ?? 1000);
    const nodeEvery = options.nodeAddressPollMs ?? NODE_ADDRESS_POLL_MS;
    this.#nodeTimer = this.#handler.allow.followsNode && nodeEvery > 0
      ? setInterval(() => this.#refreshNodeAddresses(), nodeEvery)
      : null;
    const udpLoops = Math.max(1, options.udpLoops ?? 4);
    const reactor = options.reactor ?? null;
    this.#loops = Promise.all(bound.flatMap(({ udp, tcp }) => [
      ...(udp.kind === "batched"
        ? [batchedLoop(udp.sock, serving, reactor)]
        : Array.from({ length: udpLoops }, () => udpLoop(udp.conn, serving))),
      this.#tcp.acceptLoop(tcp),
    ]));
    this.#outerSignal = options.signal;
    this.#onOuterAbort = () => void this.close();
    options.signal?.addEventListener("abort", this.#onOuterAbort, { once: true });
  }

  /**
   * Binds every listen address (UDP and TCP) and starts serving.
   * @throws {TypeError} for a bad listen address or allow-list entry
   * @throws {Error} "Cannot listen for DNS on …" (with `cause`) when a socket cannot be bound
   */
  static start(options: DnsServerOptions): Promise<DnsServer> {
    if (options.listen.length === 0) {
      return Promise.reject(new TypeError("Cannot start DNS server: dnsListen is empty"));
    }
    const addrs = options.listen.map((l) => parseHostPort(l));
    // Validate everything pure before binding anything.
    new AllowList(options.allowFrom ?? DEFAULT_DNS_ALLOW_FROM, {
      nodeAddresses: () => [],
    });
    buildZone(EMPTY_SNAPSHOT, options);
    const batched = options.udpBatching ?? MmsgSocket.available();
    const bound: Bound[] = [];
    try {
      for (const a of addrs) bound.push(bindOne(a, batched));
    } catch (err) {
      for (const b of bound) {
        closeUdp(b.udp);
        b.tcp.close();
      }
      const which = formatAddr(addrs[bound.length]!);
      const detail = err instanceof Error ? err.message : String(err);
      return Promise.reject(
        new Error(`Cannot listen for DNS on "${which}": ${detail}`, { cause: err }),
      );
    }
    if (options.signal?.aborted) {
      for (const b of bound) {
        closeUdp(b.udp);
        b.tcp.close();
      }
      return Promise.reject(options.signal.reason);
    }
    const server = new DnsServer(bound, options);
    server.#log.info("DNS server listening", {
      addresses: bound.map((b) => formatAddr(b.addr)).join(","),
      udp: bound[0]?.udp.kind ?? "plain",
      upstreams: server.#forwarder.upstreams.map(formatAddr).join(","),
    });
    return Promise.resolve(server);
  }

  /** The bound addresses (actual ports when 0 was asked), UDP and TCP alike. */
  get addresses(): readonly Upstream[] {
    return this.#bound.map((b) => b.addr);
  }

  /** The zone currently served. */
  get zone(): Zone {
    return this.#handler.zone;
  }

  /** Rebuilds the zone from `snapshot` and swaps it in atomically; also re-reads node addresses. */
  update(snapshot: Snapshot): void {
    this.#handler.setZone(buildZone(snapshot, this.#zoneOptions));
    this.#handler.allow.refresh();
  }

  #refreshNodeAddresses(): void {
    if (this.#handler.allow.refresh()) {
      this.#log.debug("node addresses changed; dnsAllowFrom node follows them");
    }
  }

  /** The upstreams forwarded to now, in the order they are tried. */
  get upstreams(): readonly Upstream[] {
    return this.#forwarder.upstreams;
  }

  /**
   * Forwards to `upstreams` from now on (the resolv.conf watch calls it when the file names
   * others); see {@linkcode Forwarder.setUpstreams}. Returns whether they differ from those in
   * use (the cache is emptied then).
   */
  setUpstreams(upstreams: readonly Upstream[]): boolean {
    return this.#forwarder.setUpstreams(upstreams);
  }

  /** Numbers for `ctl status`. */
  status(): DnsServerStatus {
    const zone = this.#handler.zone;
    return {
      listening: this.#bound.map((b) => formatAddr(b.addr)),
      clusterDomain: zone.domain,
      zoneVersion: zone.version,
      names: zone.names.size,
      upstreams: this.#forwarder.upstreams.map(formatAddr),
      cacheEntries: this.#forwarder.cacheSize,
      tcpConnections: this.#tcp.size,
      udp: this.#bound[0]?.udp.kind ?? "plain",
    };
  }

  /** Moves pending per-packet counts into the metrics registry (also done every second). */
  flushMetrics(): void {
    this.#metrics.flush(this.#forwarder.stats);
  }

  /** Stops listening, closes connections, cancels forwarding; resolves when all loops ended. */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#abort.abort();
    this.#outerSignal?.removeEventListener("abort", this.#onOuterAbort);
    clearInterval(this.#flushTimer);
    if (this.#nodeTimer !== null) clearInterval(this.#nodeTimer);
    for (const b of this.#bound) {
      closeUdp(b.udp);
      try {
        b.tcp.close();
      } catch { /* already closed */ }
    }
    this.#tcp.closeAll();
    this.#closing = (async () => {
      await this.#loops;
      await this.#tasks.settled();
      this.flushMetrics();
      this.#log.info("DNS server stopped");
    })();
    return this.#closing;
  }

  /** Closes the server (`await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
