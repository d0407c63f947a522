// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * A TCP front for a `Deno.serve` HTTP server: it accepts on the public address with a
 * cap on open connections and timeouts, and copies each connection's bytes to the server
 * behind it — on a Unix socket (in the agent's 0700 runtime directory, so only root reaches it
 * directly; the metrics server) or on a loopback TCP port (the tunnel, whose handler needs each
 * connection's real remote address: {@linkcode HttpFront.peerOf}).
 *
 * Why: `Deno.serve` (Deno 2.9.6) accepts every connection, has no idle, header-read or
 * connection limits and no hook to add them (`Deno.serveHttp` is gone, `node:http`'s
 * `maxConnections`/`headersTimeout` are ignored by Deno's implementation), and at `EMFILE` its
 * accept loop rejects a promise inside the runtime (`ext:deno_http/00_serve.ts`) that kills the
 * process: idle connections from anyone who can reach the port crashed the agent. Here:
 *
 * - at most `maxConnections` are served; beyond, nothing is accepted until one closes (they wait
 *   in the kernel's backlog), with a warning once a minute; with `maxPerAddress`, a connection
 *   from an address that holds that many already is closed at once (warned once a minute);
 * - a connection not established within `establishTimeoutMs` is closed: established means the
 *   server behind has sent a byte (`establishedBy: "reply"`: a complete request or handshake;
 *   not a bare connection or a partial header), or the server said so through
 *   {@linkcode FrontPeer.establish} (`establishedBy: "caller"`, e.g. once a request on it
 *   authenticated: an HTTP/2 server answers a bare preface with its SETTINGS, which proves
 *   nothing). A TLS server behind (the tunnel's) gets the TLS bytes as they come, so its handshake
 *   happens within that time too;
 * - with `idleTimeoutMs`, a connection on which no byte moved either way for that long is closed;
 * - a failed accept (`EMFILE`) backs off, 100 ms doubling to 2 s, and never ends the loop.
 *
 * The server behind may be replaced ({@linkcode HttpFront.setUpstream}, the tunnel's when its
 * `Deno.serve` stopped): new connections go to the new one, open ones stay where they are.
 * @module
 */
import { type Logger, LogRateLimiter } from "../log/mod.ts";
import { monotonicNow } from "./clock.ts";
import { ACCEPT_RETRY_MAX_MS, ACCEPT_RETRY_MS, isConnectionAcceptError } from "./tcp.ts";
import { setListenerKeepAlive, type TcpKeepAlive } from "./keepalive.ts";

/** Where the `Deno.serve` behind the front listens. */
export type FrontUpstream =
  | { readonly path: string }
  | { readonly hostname: "127.0.0.1" | "::1"; readonly port: number };

/** Options of {@linkcode HttpFront}. */
export interface HttpFrontOptions {
  /** Public address. */
  readonly hostname: string;
  readonly port: number;
  /** The `Deno.serve` behind: a Unix socket path, or a loopback TCP port. */
  readonly upstream: FrontUpstream;
  readonly maxConnections: number;
  /** Most connections from one remote address at once. @default maxConnections */
  readonly maxPerAddress?: number;
  /** Close a connection not established this long after accept, ms. */
  readonly establishTimeoutMs: number;
  /**
   * What establishes a connection: the server's first byte (`reply`), or
   * {@linkcode FrontPeer.establish} (`caller`). @default "reply"
   */
  readonly establishedBy?: "reply" | "caller";
  /** Close a connection on which nothing moved for this long, ms; 0: never. */
  readonly idleTimeoutMs: number;
  /**
   * TCP keepalive for the connections it accepts (`lib/sys/keepalive.ts`): a client that
   * vanishes without a word is then given up by the kernel. Set on the listener once (Linux
   * passes it to accepted sockets); without the C library it is not set (an `info` line).
   */
  readonly keepAlive?: TcpKeepAlive;
  /** Names the front in logs (`metrics`, `tunnel`). */
  readonly name: string;
  readonly log: Logger;
  /** How often timeouts are checked, ms. @default 1000 */
  readonly checkEveryMs?: number;
}

/** A connection through the front, as the server behind sees it ({@linkcode HttpFront.peerOf}). */
export interface FrontPeer {
  /** The address the connection came from (not the front's loopback one). */
  readonly remoteAddr: Deno.NetAddr;
  /** Marks it established: the establish timeout no longer applies. */
  establish(): void;
}

class Link implements FrontPeer {
  upstream: Deno.Conn | null = null;
  /** `byPort` key of the upstream leg (loopback TCP upstream), once connected: "" before. */
  upstreamKey = "";
  /** Port of the loopback TCP server it was sent to, from before its leg connects: 0 if none. */
  serverPort = 0;
  readonly opened: number;
  last: number;
  established = false;
  closed = false;
  constructor(readonly client: Deno.Conn, readonly remoteAddr: Deno.NetAddr, now: number) {
    this.opened = now;
    this.last = now;
  }
  establish(): void {
    this.established = true;
  }
}

function closeQuietly(c: { close(): void } | null): void {
  try {
    c?.close();
  } catch { /* closed */ }
}

/** The front; see the module docs. */
export class HttpFront {
  readonly addr: Deno.NetAddr;
  /** Resolves once the accept loop and every connection have ended (after {@linkcode close}). */
  readonly finished: Promise<void>;
  readonly #o: HttpFrontOptions;
  readonly #listener: Deno.TcpListener;
  readonly #links = new Set<Link>();
  /** Connections per remote address (only with `maxPerAddress`). */
  readonly #perAddress = new Map<string, number>();
  /**
   * Loopback upstream: links by the server's port and the local port of their upstream leg
   * (`server:local`; the kernel may give one local port to legs to two servers).
   */
  readonly #byPort = new Map<string, Link>();
  #upstream: FrontUpstream | null;
  readonly #tasks = new Set<Promise<void>>();
  readonly #warnings = new LogRateLimiter();
  readonly #timer: ReturnType<typeof setInterval>;
  #room: PromiseWithResolvers<void> | null = null;
  #closed = false;

  /**
   * Binds the public address and starts accepting.
   * @throws {Deno.errors.AddrInUse} and the like from `Deno.listen`
   *
   * Why no TLS here (`Deno.listenTls`): in Deno 2.9.6 closing an accepted `Deno.TlsConn` whose
   * handshake has not completed does not close its socket (the client saw no EOF within 20 s,
   * measured), so timing out bare TLS connections would leak their descriptors. TLS stays in
   * the server behind, which sees EOF when the front closes its leg.
   */
  constructor(options: HttpFrontOptions) {
    this.#o = options;
    this.#upstream = options.upstream;
    this.#listener = Deno.listen({ hostname: options.hostname, port: options.port });
    this.addr = this.#listener.addr;
    if (
      options.keepAlive &&
      !setListenerKeepAlive(this.addr.hostname, this.addr.port, options.keepAlive)
    ) {
      options.log.info("TCP keepalive not set on the listener (no C library through FFI)", {
        server: options.name,
      });
    }
    this.#timer = setInterval(() => this.#sweep(), options.checkEveryMs ?? 1000);
    this.finished = this.#accept().then(async () => {
      while (this.#tasks.size > 0) await Promise.all([...this.#tasks]);
    });
  }

  /** Connections open now. */
  get open(): number {
    return this.#links.size;
  }

  /** Where new connections are sent now; null: nowhere, they are closed at once. */
  get upstream(): FrontUpstream | null {
    return this.#upstream;
  }

  /**
   * Sends connections accepted from now on to `upstream` (a server that replaced the one
   * behind), or closes them at once (null: the server behind has stopped and its port may be
   * anyone's to bind now); connections open now stay with theirs.
   */
  setUpstream(upstream: FrontUpstream | null): void {
    this.#upstream = upstream;
  }

  /**
   * Connections sent to the loopback TCP server on `port` that have not closed, those whose
   * leg to it is still connecting included: once it is not the upstream any more and this is
   * 0, nothing can reach that server through the front again.
   */
  connectionsTo(port: number): number {
    let n = 0;
    for (const link of this.#links) if (link.serverPort === port && !link.closed) n++;
    return n;
  }

  /**
   * The connection whose upstream leg has local port `port` — what the server behind sees as
   * `info.remoteAddr.port` (loopback TCP upstream only) — or null when there is none (it has
   * closed, or the connection did not come through the front). The entry is made before the
   * first byte is forwarded and removed when the connection ends. `serverPort` names the
   * server the leg goes to (the server asking: its own port); @default the current upstream's
   */
  peerOf(port: number, serverPort?: number): FrontPeer | null {
    const up = this.#upstream;
    const server = serverPort ?? (up !== null && "port" in up ? up.port : 0);
    const link = this.#byPort.get(`${server}:${port}`);
    return link === undefined || link.closed ? null : link;
  }

  async #accept(): Promise<void> {
    let retryMs = ACCEPT_RETRY_MS;
    const perAddress = this.#o.maxPerAddress ?? this.#o.maxConnections;
    while (!this.#closed) {
      if (this.#links.size >= this.#o.maxConnections) {
        this.#warnings.warn(
          this.#o.log,
          "cap",
          "Connection cap reached, new connections wait until open ones close",
          { server: this.#o.name, cap: this.#o.maxConnections },
        );
        this.#room ??= Promise.withResolvers();
        await this.#room.promise;
        continue;
      }
      let client: Deno.Conn;
      try {
        client = await this.#listener.accept();
      } catch (err) {
        if (this.#closed || err instanceof Deno.errors.BadResource) return;
        if (isConnectionAcceptError(err)) continue; // that client is gone: take the next
        this.#warnings.warn(this.#o.log, "accept", "Cannot accept connection, backing off", {
          server: this.#o.name,
          error: err,
        });
        await new Promise((r) => setTimeout(r, retryMs));
        retryMs = Math.min(ACCEPT_RETRY_MAX_MS, retryMs * 2);
        continue;
      }
      retryMs = ACCEPT_RETRY_MS;
      const remote = client.remoteAddr as Deno.NetAddr;
      const held = this.#perAddress.get(remote.hostname) ?? 0;
      if (held >= perAddress) {
        this.#warnings.warn(
          this.#o.log,
          "per-address",
          "Connection cap per address reached, closing new connections from it",
          { server: this.#o.name, from: remote.hostname, cap: perAddress },
        );
        closeQuietly(client);
        continue;
      }
      this.#perAddress.set(remote.hostname, held + 1);
      const link = new Link(client, remote, monotonicNow());
      this.#links.add(link);
      const task = this.#serve(link).finally(() => {
        this.#tasks.delete(task);
        this.#end(link);
      });
      this.#tasks.add(task);
    }
  }

  async #serve(link: Link): Promise<void> {
    const up = this.#upstream;
    if (up === null) {
      this.#o.log.debug("Closing a connection: no server behind the front", {
        server: this.#o.name,
      });
      return;
    }
    if (!("path" in up)) link.serverPort = up.port;
    try {
      const conn = "path" in up
        ? await Deno.connect({ transport: "unix", path: up.path })
        : await Deno.connect({ hostname: up.hostname, port: up.port });
      if (link.closed) { // timed out or closed meanwhile
        closeQuietly(conn);
        return;
      }
      link.upstream = conn;
      if (!("path" in up)) {
        (conn as Deno.TcpConn).setNoDelay(true);
        // Before the first byte goes up: the server cannot see a request on it earlier.
        link.upstreamKey = `${up.port}:${(conn.localAddr as Deno.NetAddr).port}`;
        this.#byPort.set(link.upstreamKey, link);
      }
      (link.client as Deno.TcpConn).setNoDelay(true);
    } catch (err) {
      this.#o.log.debug("Cannot set up a connection through the front", {
        server: this.#o.name,
        error: err,
      });
      return;
    }
    if (link.closed) return;
    const upstream = link.upstream;
    const byReply = (this.#o.establishedBy ?? "reply") === "reply";
    await Promise.all([
      this.#pipe(link, link.client, upstream, false),
      this.#pipe(link, upstream, link.client, byReply),
    ]);
  }

  /** Copies `from` → `to` until EOF (then half-closes `to`) or an error (then ends both). */
  async #pipe(link: Link, from: Deno.Conn, to: Deno.Conn, establishes: boolean): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await from.read(buf);
        if (n === null) break;
        link.last = monotonicNow();
        if (establishes) link.established = true;
        let off = 0;
        while (off < n) off += await to.write(buf.subarray(off, n));
      }
      await to.closeWrite();
    } catch {
      this.#end(link);
    }
  }

  #end(link: Link): void {
    if (!link.closed) {
      link.closed = true;
      closeQuietly(link.client);
      closeQuietly(link.upstream);
      if (this.#byPort.get(link.upstreamKey) === link) this.#byPort.delete(link.upstreamKey);
    }
    if (this.#links.delete(link)) {
      const key = link.remoteAddr.hostname;
      const held = (this.#perAddress.get(key) ?? 1) - 1;
      if (held > 0) this.#perAddress.set(key, held);
      else this.#perAddress.delete(key);
      if (this.#room !== null) {
        this.#room.resolve();
        this.#room = null;
      }
    }
  }

  #sweep(): void {
    const now = monotonicNow();
    const { establishTimeoutMs: first, idleTimeoutMs: idle } = this.#o;
    for (const link of this.#links) {
      if (!link.established && now - link.opened >= first) {
        this.#o.log.debug("Closing a connection not established in time", {
          server: this.#o.name,
          from: link.remoteAddr.hostname,
          timeoutMs: first,
        });
        this.#end(link);
      } else if (idle > 0 && now - link.last >= idle) {
        this.#o.log.debug("Closing an idle connection", { server: this.#o.name, timeoutMs: idle });
        this.#end(link);
      }
    }
  }

  /** Stops accepting and closes every connection; await {@linkcode finished}. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    closeQuietly(this.#listener);
    this.#room?.resolve();
    this.#room = null;
    for (const link of [...this.#links]) this.#end(link);
  }
}
