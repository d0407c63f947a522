// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * A TCP front for a `Deno.serve` HTTP server: it accepts on the public address with a cap on
 * open connections and timeouts, and copies each connection's bytes to the server listening on
 * a Unix socket (in the agent's 0700 runtime directory, so only root reaches it directly).
 *
 * Why: `Deno.serve` (Deno 2.9.6) accepts every connection, has no idle, header-read or
 * connection limits and no hook to add them (`Deno.serveHttp` is gone, `node:http`'s
 * `maxConnections`/`headersTimeout` are ignored by Deno's implementation), and at `EMFILE` its
 * accept loop rejects a promise inside the runtime (`ext:deno_http/00_serve.ts`) that kills the
 * process: idle connections from anyone who can reach the port crashed the agent. Here:
 *
 * - at most `maxConnections` are served; beyond, nothing is accepted until one closes (they wait
 *   in the kernel's backlog), with a warning once a minute;
 * - a connection whose server has sent nothing within `firstByteTimeoutMs` (no complete request
 *   or handshake: a bare connection, a partial header) is closed;
 * - with `idleTimeoutMs`, a connection on which no byte moved either way for that long is closed;
 * - a failed accept (`EMFILE`) backs off, 100 ms doubling to 2 s, and never ends the loop.
 * @module
 */
import { type Logger, LogRateLimiter } from "../log/mod.ts";
import { ACCEPT_RETRY_MAX_MS, ACCEPT_RETRY_MS } from "./tcp.ts";

/** Options of {@linkcode HttpFront}. */
export interface HttpFrontOptions {
  /** Public address. */
  readonly hostname: string;
  readonly port: number;
  /** Unix socket path of the `Deno.serve` behind. */
  readonly socketPath: string;
  readonly maxConnections: number;
  /** Close a connection whose server has sent nothing for this long after accept, ms. */
  readonly firstByteTimeoutMs: number;
  /** Close a connection on which nothing moved for this long, ms; 0: never. */
  readonly idleTimeoutMs: number;
  /** Names the front in logs (`metrics`, `tunnel`). */
  readonly name: string;
  readonly log: Logger;
  /** How often timeouts are checked, ms. @default 1000 */
  readonly checkEveryMs?: number;
}

interface Link {
  readonly client: Deno.Conn;
  upstream: Deno.Conn | null;
  readonly opened: number;
  last: number;
  answered: boolean;
  closed: boolean;
}

function closeQuietly(c: Deno.Conn | null): void {
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
  readonly #tasks = new Set<Promise<void>>();
  readonly #warnings = new LogRateLimiter();
  readonly #timer: ReturnType<typeof setInterval>;
  #room: PromiseWithResolvers<void> | null = null;
  #closed = false;

  /**
   * Binds the public address and starts accepting.
   * @throws {Deno.errors.AddrInUse} and the like from `Deno.listen`
   */
  constructor(options: HttpFrontOptions) {
    this.#o = options;
    this.#listener = Deno.listen({ hostname: options.hostname, port: options.port });
    this.addr = this.#listener.addr;
    this.#timer = setInterval(() => this.#sweep(), options.checkEveryMs ?? 1000);
    this.finished = this.#accept().then(async () => {
      while (this.#tasks.size > 0) await Promise.all([...this.#tasks]);
    });
  }

  /** Connections open now. */
  get open(): number {
    return this.#links.size;
  }

  async #accept(): Promise<void> {
    let retryMs = ACCEPT_RETRY_MS;
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
        this.#warnings.warn(this.#o.log, "accept", "Cannot accept connection, backing off", {
          server: this.#o.name,
          error: err,
        });
        await new Promise((r) => setTimeout(r, retryMs));
        retryMs = Math.min(ACCEPT_RETRY_MAX_MS, retryMs * 2);
        continue;
      }
      retryMs = ACCEPT_RETRY_MS;
      const now = Date.now();
      const link: Link = {
        client,
        upstream: null,
        opened: now,
        last: now,
        answered: false,
        closed: false,
      };
      this.#links.add(link);
      const task = this.#serve(link).finally(() => {
        this.#tasks.delete(task);
        this.#end(link);
      });
      this.#tasks.add(task);
    }
  }

  async #serve(link: Link): Promise<void> {
    try {
      link.upstream = await Deno.connect({ transport: "unix", path: this.#o.socketPath });
    } catch (err) {
      this.#o.log.debug("Cannot reach the server behind the front", {
        server: this.#o.name,
        error: err,
      });
      return;
    }
    if (link.closed) return;
    const up = link.upstream;
    await Promise.all([
      this.#pipe(link, link.client, up, false),
      this.#pipe(link, up, link.client, true),
    ]);
  }

  /** Copies `from` → `to` until EOF (then half-closes `to`) or an error (then ends both). */
  async #pipe(link: Link, from: Deno.Conn, to: Deno.Conn, answers: boolean): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await from.read(buf);
        if (n === null) break;
        link.last = Date.now();
        if (answers) link.answered = true;
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
    }
    if (this.#links.delete(link) && this.#room !== null) {
      this.#room.resolve();
      this.#room = null;
    }
  }

  #sweep(): void {
    const now = Date.now();
    const { firstByteTimeoutMs: first, idleTimeoutMs: idle } = this.#o;
    for (const link of this.#links) {
      if (!link.answered && now - link.opened >= first) {
        this.#o.log.debug("Closing a connection that sent no complete request in time", {
          server: this.#o.name,
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
    closeQuietly(this.#listener as unknown as Deno.Conn);
    this.#room?.resolve();
    this.#room = null;
    for (const link of [...this.#links]) this.#end(link);
  }
}
