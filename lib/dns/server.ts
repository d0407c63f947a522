// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The DNS server shell: UDP and TCP sockets on every `dnsListen` address, a handler in between.
 *
 * The UDP loop receives into one preallocated buffer and answers the fast path from a second
 * reused buffer, so a cluster-name query allocates almost nothing; it never stops on a bad
 * packet. TCP follows RFC 7766: 2-byte length framing, several (pipelined) queries per
 * connection, an idle timeout, and bounds on open connections, in all and per client address;
 * at a bound the connection idle the longest makes room (§6.2.2, §6.2.3).
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { LogRateLimiter, nullLogger } from "../log/mod.ts";
import type { MetricsRegistry } from "../metrics/mod.ts";
import { EMPTY_SNAPSHOT, type Snapshot } from "../registry/model.ts";
import { AllowList, DEFAULT_DNS_ALLOW_FROM } from "./allow.ts";
import { Forwarder, parseHostPort, type Upstream, type UpstreamTransport } from "./forward.ts";
import { DnsHandler } from "./handler.ts";
import { frameTcp } from "./message.ts";
import { DnsMetrics } from "./metrics.ts";
import { MAX_UDP_PAYLOAD } from "./wire.ts";
import { MmsgSocket } from "./mmsg.ts";
import type { Reactor } from "../sys/reactor.ts";
import { ACCEPT_RETRY_MAX_MS, ACCEPT_RETRY_MS } from "../sys/tcp.ts";
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

/** A UDP socket: Deno's own, or a batched one (`recvmmsg`/`sendmmsg`, see ./mmsg.ts). */
type UdpSocket =
  | { readonly kind: "plain"; readonly conn: Deno.DatagramConn }
  | { readonly kind: "batched"; readonly sock: MmsgSocket };

function closeUdp(u: UdpSocket): void {
  try {
    if (u.kind === "plain") u.conn.close();
    else u.sock.close();
  } catch { /* already closed */ }
}

/** One open DNS TCP connection. */
interface TcpClient {
  readonly conn: Deno.TcpConn;
  /** The client's address: what the per-client bound counts by. */
  readonly source: string;
  /** Queries read whose answers are not written yet; 0 is idle (RFC 7766 §6.2.3). */
  pending: number;
  /** Closed by us to make room (or by close()): it no longer counts. */
  gone: boolean;
}

/** The address a TCP peer is counted by: an IPv4-mapped IPv6 address as its IPv4 address. */
function tcpSource(conn: Deno.TcpConn): string {
  const host = (conn.remoteAddr as Deno.NetAddr).hostname;
  return host.startsWith("::ffff:") && host.includes(".") ? host.slice(7) : host;
}

interface Bound {
  readonly udp: UdpSocket;
  readonly tcp: Deno.TcpListener;
  readonly addr: Upstream;
}

function formatAddr(a: Upstream): string {
  return a.hostname.includes(":") ? `[${a.hostname}]:${a.port}` : `${a.hostname}:${a.port}`;
}

function bindUdp(addr: Upstream, batched: boolean): { udp: UdpSocket; port: number } {
  if (batched) {
    const sock = MmsgSocket.open(addr.hostname, addr.port);
    return { udp: { kind: "batched", sock }, port: sock.addr.port };
  }
  const conn = Deno.listenDatagram({ transport: "udp", hostname: addr.hostname, port: addr.port });
  return { udp: { kind: "plain", conn }, port: (conn.addr as Deno.NetAddr).port };
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

async function readFull(conn: Deno.Conn, buf: Uint8Array): Promise<boolean> {
  let off = 0;
  while (off < buf.length) {
    const n = await conn.read(buf.subarray(off));
    if (n === null) return false;
    off += n;
  }
  return true;
}

async function writeAll(conn: Deno.Conn, buf: Uint8Array): Promise<void> {
  let off = 0;
  while (off < buf.length) off += await conn.write(buf.subarray(off));
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
  readonly #reactor: Reactor | null;
  readonly #tasks = new Set<Promise<unknown>>();
  /** Open TCP connections, counted against the bounds. */
  readonly #tcp = new Set<TcpClient>();
  /** The idle ones among them, idle the longest first (a Set keeps insertion order). */
  readonly #tcpIdle = new Set<TcpClient>();
  /** Open TCP connections per client address. */
  readonly #tcpPerSource = new Map<string, number>();
  /** Connections closed at a bound: one warning per kind a minute, with the count left out. */
  readonly #tcpLimitLog: LogRateLimiter;
  readonly #idleMs: number;
  readonly #maxTcp: number;
  readonly #maxTcpPerClient: number;
  readonly #flushTimer: ReturnType<typeof setInterval>;
  readonly #nodeTimer: ReturnType<typeof setInterval> | null;
  readonly #loops: Promise<unknown>;
  readonly #onOuterAbort: () => void;
  readonly #outerSignal: AbortSignal | undefined;
  #closing: Promise<void> | null = null;

  private constructor(bound: Bound[], options: DnsServerOptions) {
    this.#bound = bound;
    this.#log = options.log ?? nullLogger;
    this.#reactor = options.reactor ?? null;
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
    this.#idleMs = options.tcpIdleTimeoutMs ?? 10_000;
    this.#maxTcp = Math.max(1, options.maxTcpConnections ?? 256);
    this.#maxTcpPerClient = Math.max(1, options.maxTcpConnectionsPerClient ?? 16);
    this.#tcpLimitLog = new LogRateLimiter({ now: options.now });
    this.#flushTimer = setInterval(() => this.flushMetrics(), options.metricsFlushMs ?? 1000);
    const nodeEvery = options.nodeAddressPollMs ?? NODE_ADDRESS_POLL_MS;
    this.#nodeTimer = this.#handler.allow.followsNode && nodeEvery > 0
      ? setInterval(() => this.#refreshNodeAddresses(), nodeEvery)
      : null;
    const udpLoops = Math.max(1, options.udpLoops ?? 4);
    this.#loops = Promise.all(bound.flatMap(({ udp, tcp }) => [
      ...(udp.kind === "batched"
        ? [this.#batchedLoop(udp.sock)]
        : Array.from({ length: udpLoops }, () => this.#udpLoop(udp.conn))),
      this.#tcpLoop(tcp),
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
    for (const c of this.#tcp) this.#dropTcp(c);
    this.#closing = (async () => {
      await this.#loops;
      while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
      this.flushMetrics();
      this.#log.info("DNS server stopped");
    })();
    return this.#closing;
  }

  /** Closes the server (`await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #track(p: Promise<unknown>): void {
    const t = p.catch((err) => this.#log.debug("DNS task failed", { error: err }))
      .finally(() => this.#tasks.delete(t));
    this.#tasks.add(t);
  }

  async #udpLoop(conn: Deno.DatagramConn): Promise<void> {
    const inBuf = new Uint8Array(65536);
    // Fast answers fit the largest UDP payload we send; bigger ones take the slow path.
    const out = new Uint8Array(MAX_UDP_PAYLOAD);
    const signal = this.#abort.signal;
    let errors = 0;
    while (!signal.aborted) {
      let data: Uint8Array;
      let peer: Deno.Addr;
      try {
        // Indexing, not array destructuring (which walks an iterator per packet).
        const r = await conn.receive(inBuf);
        data = r[0];
        peer = r[1];
        errors = 0;
      } catch (err) {
        if (signal.aborted) break;
        if (++errors >= 100) {
          this.#log.error("DNS UDP socket keeps failing, stopping it", { error: err });
          break;
        }
        this.#log.warn("DNS UDP receive failed", { error: err });
        continue;
      }
      try {
        const reply = this.#handler.handle(data, (peer as Deno.NetAddr).hostname, false, out);
        if (reply === null) continue;
        if (reply instanceof Uint8Array) {
          await conn.send(reply, peer);
        } else {
          this.#track(reply.then((r) => (r === null || signal.aborted) ? 0 : conn.send(r, peer)));
        }
      } catch (err) {
        if (signal.aborted) break;
        this.#log.debug("DNS UDP send failed", { error: err });
      }
    }
  }

  /** Serves a batched socket: the same handler, answers sent per batch (see ./mmsg.ts). */
  #batchedLoop(sock: MmsgSocket): Promise<void> {
    const signal = this.#abort.signal;
    return sock.serve(
      (data, peer, out) => {
        const reply = this.#handler.handle(data, peer, false, out);
        if (reply === null || reply instanceof Uint8Array) return reply;
        const sent = reply.then((r) => (signal.aborted ? null : r));
        this.#track(sent);
        return sent;
      },
      (err) => {
        if (!signal.aborted) this.#log.warn("DNS UDP socket call failed", { error: err });
      },
      this.#reactor,
    );
  }

  /**
   * Accepts DNS TCP connections until closed. A failed accept (out of descriptors: `EMFILE`)
   * waits {@linkcode ACCEPT_RETRY_MS}, doubling up to {@linkcode ACCEPT_RETRY_MAX_MS} while
   * failures go on, with one warning a minute, as the proxy's listeners do: it used to retry at
   * once and warn each time, 150 000 lines in 2 s under a flood at 256 open files.
   */
  async #tcpLoop(listener: Deno.TcpListener): Promise<void> {
    const signal = this.#abort.signal;
    let retryMs = ACCEPT_RETRY_MS;
    while (!signal.aborted) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (signal.aborted || err instanceof Deno.errors.BadResource) break;
        this.#tcpLimitLog.warn(this.#log, "accept", "DNS TCP accept failed, backing off", {
          error: err,
          retryMs,
        });
        await this.#pause(retryMs);
        retryMs = Math.min(ACCEPT_RETRY_MAX_MS, retryMs * 2);
        continue;
      }
      retryMs = ACCEPT_RETRY_MS;
      const c: TcpClient = { conn, source: tcpSource(conn), pending: 0, gone: false };
      if (!this.#admitTcp(c.source)) {
        try {
          conn.close();
        } catch { /* already closed */ }
        continue;
      }
      this.#tcp.add(c);
      this.#tcpIdle.add(c);
      this.#tcpPerSource.set(c.source, (this.#tcpPerSource.get(c.source) ?? 0) + 1);
      this.#track(this.#serveTcp(c).finally(() => this.#dropTcp(c)));
    }
  }

  /**
   * Makes room for a new connection from `source` (RFC 7766 §6.2.2, §6.2.3): at the client's
   * bound its own connection idle the longest is closed, at the server's bound the one idle the
   * longest of all; false when there is no idle one to close (the new one is refused then).
   * Runs only when a connection is accepted; each closure is warned about, rate-limited.
   */
  #admitTcp(source: string): boolean {
    if ((this.#tcpPerSource.get(source) ?? 0) >= this.#maxTcpPerClient) {
      let victim: TcpClient | null = null;
      for (const c of this.#tcpIdle) {
        if (c.source === source) {
          victim = c;
          break;
        }
      }
      const fields = { client: source, limit: this.#maxTcpPerClient };
      if (victim === null) {
        this.#tcpLimitLog.warn(
          this.#log,
          "client-refused",
          "DNS TCP client at its connection limit with every connection busy; refused a new one",
          fields,
        );
        return false;
      }
      this.#dropTcp(victim);
      this.#tcpLimitLog.warn(
        this.#log,
        "client-evicted",
        "DNS TCP client at its connection limit; closed its connection idle the longest",
        fields,
      );
    }
    if (this.#tcp.size >= this.#maxTcp) {
      const victim: TcpClient | undefined = this.#tcpIdle.values().next().value;
      if (victim === undefined) {
        this.#tcpLimitLog.warn(
          this.#log,
          "server-refused",
          "DNS TCP connections at their limit with every connection busy; refused a new one",
          { client: source, limit: this.#maxTcp },
        );
        return false;
      }
      this.#dropTcp(victim);
      this.#tcpLimitLog.warn(
        this.#log,
        "server-evicted",
        "DNS TCP connections at their limit; closed the connection idle the longest",
        { client: source, closed: victim.source, limit: this.#maxTcp },
      );
    }
    return true;
  }

  /** Resolves after `ms`, or at once when the server closes (no timer outlives it). */
  #pause(ms: number): Promise<void> {
    const signal = this.#abort.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  /** Closes a connection and stops counting it (once; its serving loop then ends). */
  #dropTcp(c: TcpClient): void {
    if (!c.gone) {
      c.gone = true;
      this.#tcp.delete(c);
      this.#tcpIdle.delete(c);
      const n = (this.#tcpPerSource.get(c.source) ?? 1) - 1;
      if (n > 0) this.#tcpPerSource.set(c.source, n);
      else this.#tcpPerSource.delete(c.source);
    }
    try {
      c.conn.close();
    } catch { /* already closed */ }
  }

  async #serveTcp(c: TcpClient): Promise<void> {
    const { conn, source: client } = c;
    const lenBuf = new Uint8Array(2);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        try {
          conn.close();
        } catch { /* already closed */ }
      }, this.#idleMs);
    };
    // Answers are written in order; a forwarded one does not block reading the next query.
    let chain: Promise<void> = Promise.resolve();
    try {
      for (;;) {
        arm();
        if (!await readFull(conn, lenBuf)) break;
        const len = (lenBuf[0]! << 8) | lenBuf[1]!;
        if (len === 0) break;
        const msg = new Uint8Array(len);
        if (!await readFull(conn, msg)) break;
        const reply = this.#handler.handle(msg, client, true);
        if (reply === null) continue;
        // A query outstanding: not idle until its answer is written.
        if (c.pending++ === 0) this.#tcpIdle.delete(c);
        chain = chain.then(async () => {
          const r = await reply;
          if (r !== null) await writeAll(conn, frameTcp(r));
          if (--c.pending === 0 && !c.gone) this.#tcpIdle.add(c); // idle the shortest now
        });
        if (reply instanceof Uint8Array) await chain;
      }
      await chain;
    } catch (err) {
      if (!this.#abort.signal.aborted && !c.gone) {
        this.#log.debug("DNS TCP connection ended", { error: err });
      }
    } finally {
      clearTimeout(timer);
    }
  }
}
