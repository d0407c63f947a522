// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The control socket: a Unix stream socket speaking newline-delimited KubeEdge messages
 * (see `README.md`). Each line goes to the registry; its reply line is written once the change
 * is durable. Lines are pipelined: later lines are applied while earlier ones are still being
 * persisted (the registry group-commits them), and replies always come back in order.
 * @module
 */
import { dirname } from "node:path";
import { type Logger, LogRateLimiter } from "../log/mod.ts";
import { ACCEPT_RETRY_MAX_MS, ACCEPT_RETRY_MS, isConnectionAcceptError } from "../sys/tcp.ts";
import type { MetricsRegistry } from "../metrics/mod.ts";
import type { ChangeResult, Snapshot } from "../registry/model.ts";
import { type ByteReader, readLines } from "./lines.ts";

const NEWLINE = 0x0a;
import {
  changeReply,
  type ChangeRequest,
  type ControlMessage,
  encodeReply,
  errorReply,
  lineTooLongMessage,
  MAX_LINE_BYTES,
  okReply,
  parseMessageValue,
  type QueryRequest,
  readMsgId,
  type Reply,
} from "./protocol.ts";
import type { StatusInfo } from "./status.ts";
import { serviceViews } from "./view.ts";

/** What the server needs from the registry (the `Registry` satisfies it). */
export interface ControlTarget {
  /**
   * Validates and applies a change; resolves once durable; throws with the reply text. Resolves
   * with what the change did (a delete's `found` and `unchanged` go into the reply); a stand-in
   * that cannot tell resolves with nothing, and its replies carry neither.
   */
  apply(change: ChangeRequest): Promise<ChangeResult | void>;
  snapshot(): Snapshot;
}

/** Options of {@linkcode ControlServer.listen}. */
export interface ControlServerOptions {
  /** Socket path (config `controlSocket`). */
  readonly path: string;
  readonly target: ControlTarget;
  /** Answers `status` queries. */
  readonly status: () => StatusInfo;
  readonly log: Logger;
  /** Stops the server when aborted. */
  readonly signal?: AbortSignal;
  /** Registers `edgemesh_control_messages_total` and `edgemesh_control_connections`. */
  readonly metrics?: MetricsRegistry;
  /** Messages in flight per connection before reading pauses. @default {4096} */
  readonly maxInFlight?: number;
  /**
   * Open connections served at once; one more gets an error reply and is closed. Each can hold
   * a 1 MiB partial line and its in-flight messages, so an unbounded number is unbounded memory
   * (edgecore keeps one connection, `ctl` one per command). @default {MAX_CONNECTIONS}
   */
  readonly maxConnections?: number;
  /**
   * A connection that has sent no complete line yet, or has sent part of one, is closed when
   * no line is completed for this long, ms: idle clients cannot hold the connection slots
   * ({@linkcode maxConnections}) forever. Between messages, with nothing partial, a connection
   * may stay idle (edgecore keeps one open). @default {IDLE_TIMEOUT_MS}
   */
  readonly idleTimeoutMs?: number;
}

/** Default {@linkcode ControlServerOptions.idleTimeoutMs}. */
export const IDLE_TIMEOUT_MS = 60_000;

/** Default {@linkcode ControlServerOptions.maxConnections}. */
export const MAX_CONNECTIONS = 64;

/** How long a refused connection is read from before it is closed, ms. */
const REFUSE_DRAIN_MS = 1000;

/** Reads and drops what `conn` sends until EOF or `ms` pass. */
async function drainFor(conn: Deno.UnixConn, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  const buf = new Uint8Array(4096);
  const drain = (async () => {
    while ((await conn.read(buf)) !== null) { /* dropped */ }
  })().catch(() => {});
  try {
    await Promise.race([drain, late]);
  } finally {
    clearTimeout(timer);
  }
  closeQuietly(conn);
  await drain;
}

/**
 * Another process is already serving the socket path. A subclass so the agent can tell
 * "refuse to start" apart from other start-up failures.
 */
export class SocketInUseError extends Error {
  override name = "SocketInUseError";
}

/** The idle timer of one connection ({@linkcode ControlServer}'s `#idleGuard`). */
interface IdleGuard {
  /** The connection, read through the timer. */
  readonly reader: ByteReader;
  /** Messages read whose replies are not yet written, by how many more (or fewer). */
  busy(delta: number): void;
  /** Ends the timer for good. */
  stop(): void;
  /** Whether the timer closed the connection. */
  fired: boolean;
}

interface Pending {
  readonly reply: Promise<Reply>;
  settled: boolean;
}

/** The Unix-socket server; create with {@linkcode ControlServer.listen}. */
export class ControlServer {
  /** The socket path. */
  readonly path: string;
  readonly #opts: ControlServerOptions;
  readonly #log: Logger;
  readonly #listener: Deno.Listener<Deno.UnixConn, Deno.UnixAddr>;
  readonly #conns = new Set<Deno.UnixConn>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #acceptLoop: Promise<void>;
  readonly #count: { messages?: MetricsCounter; conns?: MetricsGauge };
  #closing: Promise<void> | null = null;
  /** The accept loop's back-off in progress, if any (`#sleep`). */
  #pause: { timer: ReturnType<typeof setTimeout>; resolve: () => void } | null = null;
  readonly #acceptWarnings = new LogRateLimiter();
  #onAbort = () => void this.close();

  private constructor(
    opts: ControlServerOptions,
    listener: Deno.Listener<Deno.UnixConn, Deno.UnixAddr>,
  ) {
    this.path = opts.path;
    this.#opts = opts;
    this.#log = opts.log;
    this.#listener = listener;
    this.#count = {
      messages: opts.metrics?.counter(
        "edgemesh_control_messages_total",
        "Control-socket messages handled, by operation and result (ok or error).",
      ),
      conns: opts.metrics?.gauge(
        "edgemesh_control_connections",
        "Open control-socket connections.",
      ),
    };
    this.#acceptLoop = this.#accept();
    opts.signal?.addEventListener("abort", this.#onAbort, { once: true });
    if (opts.signal?.aborted) void this.close();
  }

  /**
   * Creates the socket directory (0700) if needed, replaces a stale socket left by a crashed
   * run, binds the socket (0600) and starts serving.
   * @throws {SocketInUseError} when a live agent already listens on the path
   */
  static async listen(opts: ControlServerOptions): Promise<ControlServer> {
    opts.signal?.throwIfAborted();
    await prepareSocketPath(opts.path, opts.log);
    let listener: Deno.Listener<Deno.UnixConn, Deno.UnixAddr>;
    try {
      listener = Deno.listen({ transport: "unix", path: opts.path });
    } catch (err) {
      throw new Error(`Cannot listen on control socket "${opts.path}": ${message(err)}`, {
        cause: err,
      });
    }
    try {
      await Deno.chmod(opts.path, 0o600);
    } catch (err) {
      listener.close();
      throw new Error(`Cannot listen on control socket "${opts.path}": ${message(err)}`, {
        cause: err,
      });
    }
    opts.log.info("control socket listening", { path: opts.path });
    return new ControlServer(opts, listener);
  }

  /** Stops accepting, closes every connection, waits for in-flight changes, removes the socket. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#opts.signal?.removeEventListener("abort", this.#onAbort);
    try {
      this.#listener.close();
    } catch { /* already closed */ }
    if (this.#pause !== null) {
      clearTimeout(this.#pause.timer);
      this.#pause.resolve();
      this.#pause = null;
    }
    for (const conn of this.#conns) closeQuietly(conn);
    await this.#acceptLoop;
    while (this.#tasks.size > 0) await Promise.all([...this.#tasks]);
    try {
      await Deno.remove(this.path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) {
        this.#log.warn("cannot remove control socket", { path: this.path, error: err });
      }
    }
    this.#log.info("control socket closed", { path: this.path });
  }

  /**
   * Accepts until closed. A failed accept (out of descriptors: `EMFILE`) waits
   * `ACCEPT_RETRY_MS`, doubling up to `ACCEPT_RETRY_MAX_MS` while failures go on, with one
   * warning a minute, as the other listeners do. Before, the loop ended at the first failure:
   * the control socket stopped accepting, and so the agent stopped taking updates, until a
   * restart.
   */
  async #accept(): Promise<void> {
    let retryMs = ACCEPT_RETRY_MS;
    while (this.#closing === null) {
      let conn: Deno.UnixConn;
      try {
        conn = await this.#listener.accept();
      } catch (err) {
        if (this.#closing !== null || err instanceof Deno.errors.BadResource) return;
        if (isConnectionAcceptError(err)) continue;
        this.#acceptWarnings.warn(
          this.#log,
          "accept",
          "Cannot accept control connection, backing off",
          { error: err, retryMs },
        );
        await this.#sleep(retryMs);
        retryMs = Math.min(ACCEPT_RETRY_MAX_MS, retryMs * 2);
        continue;
      }
      retryMs = ACCEPT_RETRY_MS;
      if (this.#closing !== null) {
        closeQuietly(conn);
        return;
      }
      const max = this.#opts.maxConnections ?? MAX_CONNECTIONS;
      const task = (this.#conns.size >= max ? this.#refuse(conn, max) : this.#serve(conn))
        .finally(() => this.#tasks.delete(task));
      this.#tasks.add(task);
    }
  }

  /** Waits `ms` (the accept loop's back-off); {@linkcode close} ends the wait at once. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pause = null;
        resolve();
      }, ms);
      this.#pause = { timer, resolve };
    });
  }

  /** Answers a connection over the limit with one error line and closes it. */
  async #refuse(conn: Deno.UnixConn, max: number): Promise<void> {
    this.#log.warn("Control connection refused: too many open", { limit: max });
    const message = `Cannot serve this connection: ${max} control connections are open ` +
      "(the limit); close one and retry";
    try {
      await writeAll(conn, new TextEncoder().encode(encodeReply(errorReply(null, message))));
      await conn.closeWrite();
      // Closing with the client's unread request in the buffer would reset the connection
      // before it reads the reply: take what it sent until it closes, for one second at most.
      await drainFor(conn, REFUSE_DRAIN_MS);
    } catch {
      // the client went away first
    } finally {
      closeQuietly(conn);
    }
  }

  /**
   * `conn` as {@linkcode readLines} reads it, closing it when the client keeps the server
   * waiting for a line longer than the idle timeout (see
   * {@linkcode ControlServerOptions.idleTimeoutMs}). The timer runs only while the server waits
   * for the client and has nothing of its own to do: from the start, or while part of a line
   * is in, and only while no message of the connection is queued, being applied or having its
   * reply written (`busy`). A trickle of bytes does not restart it; a completed line does, and
   * so does the server finishing its work (the time it took is not the client's).
   * Without the `busy` rule, a pipelined burst whose last read ended inside a line was closed
   * while it waited behind `maxInFlight` or slow applies, and its unread rest reset it.
   */
  #idleGuard(conn: Deno.UnixConn): IdleGuard {
    const ms = this.#opts.idleTimeoutMs ?? IDLE_TIMEOUT_MS;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let waiting = true; // no line yet, or part of one in
    let outstanding = 0;
    let stopped = false;
    const guard: IdleGuard = {
      fired: false,
      reader: {
        read: async (p) => {
          const n = await conn.read(p);
          if (n === null || n === 0) return n;
          const nl = p.subarray(0, n).lastIndexOf(NEWLINE);
          if (nl === -1) waiting = true; // a running timer goes on: a trickle does not extend it
          else {
            waiting = nl !== n - 1; // a line completed; maybe the next one started
            clear();
          }
          sync();
          return n;
        },
      },
      busy: (delta) => {
        outstanding += delta;
        sync();
      },
      stop: () => {
        stopped = true;
        clear();
      },
    };
    const clear = () => {
      clearTimeout(timer);
      timer = undefined;
    };
    const sync = () => {
      if (stopped || !waiting || outstanding > 0) return clear();
      timer ??= setTimeout(() => {
        guard.fired = true;
        this.#log.info("control connection closed: no complete message in time", {
          timeoutMs: ms,
        });
        closeQuietly(conn);
      }, ms);
    };
    sync();
    return guard;
  }

  async #serve(conn: Deno.UnixConn): Promise<void> {
    this.#conns.add(conn);
    const idle = this.#idleGuard(conn);
    this.#count.conns?.inc();
    this.#log.debug("control connection opened");
    const maxInFlight = this.#opts.maxInFlight ?? 4096;
    const queue: Pending[] = [];
    const inFlight = new Set<Promise<Reply>>();
    let readerDone = false;
    let wakeWriter: (() => void) | null = null;
    let wakeReader: (() => void) | null = null;
    const notify = (which: "writer" | "reader") => {
      const fn = which === "writer" ? wakeWriter : wakeReader;
      if (which === "writer") wakeWriter = null;
      else wakeReader = null;
      fn?.();
    };

    const writer = (async () => {
      let broken = false;
      while (true) {
        if (queue.length === 0) {
          if (readerDone) break;
          await new Promise<void>((r) => (wakeWriter = r));
          continue;
        }
        const first = queue.shift()!;
        let text = encodeReply(await first.reply);
        let replies = 1;
        // Batch every reply that is already settled into one write.
        while (queue.length > 0 && queue[0]!.settled) {
          text += encodeReply(await queue.shift()!.reply);
          replies++;
        }
        notify("reader");
        if (!broken) {
          try {
            await writeAll(conn, new TextEncoder().encode(text));
          } catch (err) {
            broken = true;
            if (!this.#closing) this.#log.debug("control connection write failed", { error: err });
          }
        }
        idle.busy(-replies);
      }
    })();

    try {
      for await (const ev of readLines(idle.reader, MAX_LINE_BYTES)) {
        let reply: Promise<Reply>;
        if (ev.kind === "tooLong") reply = Promise.resolve(errorReply(null, lineTooLongMessage()));
        else if (ev.kind === "badUtf8") {
          reply = Promise.resolve(
            errorReply(null, "Cannot parse message: line is not valid UTF-8"),
          );
        } else reply = this.#handle(ev.text, [...inFlight]);
        const item: Pending = { reply, settled: false };
        inFlight.add(reply);
        void reply.then(() => {
          item.settled = true;
          inFlight.delete(reply);
        });
        queue.push(item);
        idle.busy(1);
        notify("writer");
        while (queue.length >= maxInFlight) await new Promise<void>((r) => (wakeReader = r));
      }
    } catch (err) {
      // The client going away is routine; anything else (a descriptor closed under the
      // connection, say) is worth an operator's look.
      const routine = idle.fired || this.#closing !== null ||
        err instanceof Deno.errors.ConnectionReset || err instanceof Deno.errors.BrokenPipe;
      if (routine) this.#log.debug("control connection read failed", { error: err });
      else this.#log.warn("control connection read failed", { error: err });
    } finally {
      idle.stop();
      readerDone = true;
      notify("writer");
      await writer;
      closeQuietly(conn);
      this.#conns.delete(conn);
      this.#count.conns?.dec();
      this.#log.debug("control connection closed");
    }
  }

  /** Parses and executes one line; never rejects (errors become error replies). */
  #handle(line: string, earlier: Promise<Reply>[]): Promise<Reply> {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      return Promise.resolve(this.#rejected(null, "Cannot parse message: not valid JSON"));
    }
    const msgId = readMsgId(value);
    let msg: ControlMessage;
    try {
      msg = parseMessageValue(value);
    } catch (err) {
      return Promise.resolve(this.#rejected(msgId, message(err)));
    }
    if (msg.kind === "query") {
      // A query sees every change sent before it on this connection.
      return Promise.all(earlier).then(() => this.#query(msgId, msg.query));
    }
    const change = msg.change;
    let applied: Promise<ChangeResult | void>;
    try {
      applied = this.#opts.target.apply(change);
    } catch (err) {
      return Promise.resolve(this.#rejected(msgId, message(err), change.operation));
    }
    return applied.then(
      (result) => {
        this.#count.messages?.inc({ operation: change.operation, result: "ok" });
        this.#log.debug("applied", {
          "msg_id": msgId,
          operation: change.operation,
          resource: `${change.namespace}/${change.type}/${change.name}`,
          ...(result?.operation === "delete" ? { found: result.found } : {}),
          ...(result?.unchanged === true ? { unchanged: true } : {}),
        });
        return changeReply(msgId, result ?? undefined);
      },
      (err) => this.#rejected(msgId, message(err), change.operation),
    );
  }

  #query(msgId: string | null, q: QueryRequest): Reply {
    try {
      if (q.type === "status") {
        this.#count.messages?.inc({ operation: "query", result: "ok" });
        return okReply(msgId, this.#opts.status());
      }
      const views = serviceViews(this.#opts.target.snapshot(), q);
      if (q.type === "service" && q.name !== null && views.length === 0) {
        return this.#rejected(
          msgId,
          `Cannot find service "${q.namespace ?? "*"}/${q.name}"`,
          "query",
        );
      }
      this.#count.messages?.inc({ operation: "query", result: "ok" });
      return okReply(msgId, views);
    } catch (err) {
      return this.#rejected(msgId, `Cannot answer query: ${message(err)}`, "query");
    }
  }

  #rejected(msgId: string | null, error: string, operation = "unknown"): Reply {
    this.#count.messages?.inc({ operation, result: "error" });
    this.#log.warn("control message rejected", { "msg_id": msgId, error });
    return errorReply(msgId, error);
  }
}

type MetricsCounter = ReturnType<MetricsRegistry["counter"]>;
type MetricsGauge = ReturnType<MetricsRegistry["gauge"]>;

/**
 * Makes `path` ready to bind: creates its directory with mode 0700 when missing, removes a
 * stale socket (nothing accepts on it), refuses when a live agent answers or the path is not
 * a socket.
 */
export async function prepareSocketPath(path: string, log: Logger): Promise<void> {
  const dir = dirname(path);
  try {
    await Deno.stat(dir);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    await Deno.chmod(dir, 0o700);
  }
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw err;
  }
  if (!info.isSocket) {
    throw new Error(
      `Cannot listen on control socket "${path}": the path exists and is not a socket`,
    );
  }
  let live: Deno.UnixConn | null = null;
  try {
    live = await Deno.connect({ transport: "unix", path });
  } catch (err) {
    if (!(err instanceof Deno.errors.ConnectionRefused)) {
      throw new Error(`Cannot check control socket "${path}": ${message(err)}`, { cause: err });
    }
  }
  if (live) {
    live.close();
    throw new SocketInUseError(
      `Cannot listen on control socket "${path}": another edgemesh agent is already listening there`,
    );
  }
  await Deno.remove(path);
  log.warn("removed stale control socket", { path });
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* already closed */ }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
