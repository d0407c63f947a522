// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The DNS server's TCP side ({@linkcode TcpConnections}), per RFC 7766: 2-byte length framing,
 * several (pipelined) queries per connection, an idle timeout, and bounds on open connections,
 * in all and per client address; at a bound the connection idle the longest makes room
 * (§6.2.2, §6.2.3).
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { LogRateLimiter } from "../log/mod.ts";
import { ACCEPT_RETRY_MAX_MS, ACCEPT_RETRY_MS, isConnectionAcceptError } from "../sys/tcp.ts";
import type { DnsHandler } from "./handler.ts";
import { frameTcp } from "./message.ts";
import type { ServerTasks } from "./tasks.ts";

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

/** Options of {@linkcode TcpConnections} (see `DnsServerOptions` for the defaults). */
export interface TcpConnectionsOptions {
  readonly handler: DnsHandler;
  /** Served connections are tracked here. */
  readonly tasks: ServerTasks;
  readonly log: Logger;
  /** The server closing: the accept loops end. */
  readonly signal: AbortSignal;
  /** Close a connection idle this long, ms (RFC 7766 §6.2.3). */
  readonly idleMs: number;
  /** Open connections at most. */
  readonly maxConnections: number;
  /** Open connections per client address at most (RFC 7766 §6.2.2). */
  readonly maxPerClient: number;
  /** Clock of the rate-limited warnings, ms. */
  readonly now?: () => number;
}

/** The open DNS TCP connections of a server, counted against the bounds, and their serving. */
export class TcpConnections {
  readonly #handler: DnsHandler;
  readonly #tasks: ServerTasks;
  readonly #log: Logger;
  readonly #signal: AbortSignal;
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

  constructor(options: TcpConnectionsOptions) {
    this.#handler = options.handler;
    this.#tasks = options.tasks;
    this.#log = options.log;
    this.#signal = options.signal;
    this.#idleMs = options.idleMs;
    this.#maxTcp = options.maxConnections;
    this.#maxTcpPerClient = options.maxPerClient;
    this.#tcpLimitLog = new LogRateLimiter({ now: options.now });
  }

  /** Open connections. */
  get size(): number {
    return this.#tcp.size;
  }

  /** Closes every open connection (the server closing; their serving loops then end). */
  closeAll(): void {
    for (const c of this.#tcp) this.#dropTcp(c);
  }

  /**
   * Accepts DNS TCP connections until closed. A failed accept (out of descriptors: `EMFILE`)
   * waits {@linkcode ACCEPT_RETRY_MS}, doubling up to {@linkcode ACCEPT_RETRY_MAX_MS} while
   * failures go on, with one warning a minute, as the proxy's listeners do: it used to retry at
   * once and warn each time, 150 000 lines in 2 s under a flood at 256 open files.
   */
  async acceptLoop(listener: Deno.TcpListener): Promise<void> {
    const signal = this.#signal;
    let retryMs = ACCEPT_RETRY_MS;
    while (!signal.aborted) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (signal.aborted || err instanceof Deno.errors.BadResource) break;
        if (isConnectionAcceptError(err)) continue; // that client is gone: take the next
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
      this.#tasks.track(this.#serveTcp(c).finally(() => this.#dropTcp(c)));
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
    const signal = this.#signal;
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
      if (!this.#signal.aborted && !c.gone) {
        this.#log.debug("DNS TCP connection ended", { error: err });
      }
    } finally {
      clearTimeout(timer);
    }
  }
}
