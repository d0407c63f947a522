// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The control-socket client used by `edgemesh ctl`: sends messages without waiting
 * (pipelined) and matches replies to requests by order, which the server guarantees, checking
 * each reply's `msg_id` against its request so a confused peer is reported, never trusted.
 * @module
 */
import { type ByteReader, type LineEvent, readLines } from "./lines.ts";
import { parseReply, readMsgId, type Reply } from "./protocol.ts";

/** Replies can be large (`get` of thousands of services); bound them anyway. */
const MAX_REPLY_BYTES = 256 * 1024 * 1024;

/** Prefix of every error about a reply the client cannot use. */
const REPLY_PREFIX = "Cannot read the agent's reply: ";

/**
 * The connection to the agent broke while replies were awaited: it closed it (stopped,
 * crashed), or a read or write failed. Requests without their reply may or may not have been
 * applied. Unusable replies are other errors (`TypeError`, `SyntaxError`, `RangeError`).
 */
export class ConnectionLostError extends Error {
  override name = "ConnectionLostError";
}

/** Options of {@linkcode ControlClient.connect}. */
export interface ControlClientOptions {
  /**
   * Fail every pending request when the agent sends nothing for this long while a reply is
   * awaited, in milliseconds; 0 waits forever. It is an idle timeout, not a deadline: every
   * byte received restarts it, so a long pipelined `apply` (one durable write per reply) or a
   * large `get` never times out while replies keep coming, but a peer that accepted the
   * connection and went silent does.
   * @default {0}
   */
  readonly idleTimeoutMs?: number;
}

interface Waiter {
  /** `header.msg_id` of the request (null when it has none); the reply must echo it. */
  readonly msgId: string | null;
  resolve(r: Reply): void;
  reject(e: Error): void;
}

/** A connection to the agent's control socket. */
export class ControlClient {
  /** The socket path. */
  readonly path: string;
  readonly #conn: Deno.UnixConn;
  readonly #idleTimeoutMs: number;
  readonly #waiters: Waiter[] = [];
  readonly #reader: Promise<void>;
  #writes: Promise<void> = Promise.resolve();
  #failure: Error | null = null;
  #closed = false;
  #connClosed = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** `performance.now()` of the last bytes received (or of the first request after idling). */
  #lastActivity = 0;

  private constructor(path: string, conn: Deno.UnixConn, idleTimeoutMs: number) {
    this.path = path;
    this.#conn = conn;
    this.#idleTimeoutMs = idleTimeoutMs;
    this.#reader = this.#read();
  }

  /**
   * Connects to the agent.
   * @throws {RangeError} when `idleTimeoutMs` is not a non-negative integer
   * @throws {Error} `Cannot connect to control socket "<path>": <reason> (is the agent running?)`,
   *   or `…: the path is not a socket` when something other than a socket is there
   */
  static async connect(path: string, options: ControlClientOptions = {}): Promise<ControlClient> {
    const idleTimeoutMs = options.idleTimeoutMs ?? 0;
    if (!Number.isSafeInteger(idleTimeoutMs) || idleTimeoutMs < 0) {
      throw new RangeError(`idleTimeoutMs ${idleTimeoutMs} is not a non-negative integer`);
    }
    let conn: Deno.UnixConn;
    try {
      conn = await Deno.connect({ transport: "unix", path });
    } catch (err) {
      if (await isNonSocket(path)) {
        throw new Error(`Cannot connect to control socket "${path}": the path is not a socket`, {
          cause: err,
        });
      }
      if (err instanceof Deno.errors.NotCapable) {
        // The production permission flags (fixed in a compiled binary) name the socket's
        // directory; `--allow-write` is not something an operator can add.
        throw new Error(
          `Cannot connect to control socket "${path}": this edgemesh may only reach sockets ` +
            "under the directories its permission flags name (by default /run/edgemesh): use " +
            "the agent's controlSocket there, or run ctl with the flags " +
            "`scripts/permissions.ts --runtime-dir DIR` prints for it",
          { cause: err },
        );
      }
      const reason = err instanceof Deno.errors.NotFound
        ? "no such socket"
        : err instanceof Deno.errors.ConnectionRefused
        ? "connection refused"
        : msg(err);
      throw new Error(
        `Cannot connect to control socket "${path}": ${reason} (is the agent running?)`,
        { cause: err },
      );
    }
    return new ControlClient(path, conn, idleTimeoutMs);
  }

  /**
   * Sends one message (an envelope object, or a raw line as a string) and resolves with its
   * reply. Calls may overlap: they are written and answered in call order. Every returned
   * promise settles: with the reply, or rejected when the reply is unusable (not a reply,
   * another request's `msg_id`), the connection fails or closes, or the idle timeout passes.
   */
  send(message: unknown): Promise<Reply> {
    if (this.#failure) return Promise.reject(this.#failure);
    const line = typeof message === "string" ? message : JSON.stringify(message);
    if (line.includes("\n")) {
      return Promise.reject(new TypeError("Cannot send message: it contains a newline"));
    }
    const msgId = readMsgId(typeof message === "string" ? parseOrNull(line) : message);
    const reply = new Promise<Reply>((resolve, reject) => {
      if (this.#waiters.length === 0) this.#lastActivity = performance.now();
      this.#waiters.push({ msgId, resolve, reject });
    });
    this.#armTimer();
    const bytes = new TextEncoder().encode(line + "\n");
    this.#writes = this.#writes.then(async () => {
      if (this.#failure) return;
      try {
        let off = 0;
        while (off < bytes.length) off += await this.#conn.write(bytes.subarray(off));
      } catch (err) {
        // EPIPE/ECONNRESET: the agent closed the connection (stopped, crashed) before the
        // reader saw the end; say so rather than leave "Broken pipe" to be decoded.
        const closed = err instanceof Deno.errors.BrokenPipe ||
          err instanceof Deno.errors.ConnectionReset;
        this.#fail(
          new ConnectionLostError(
            `Cannot send to control socket "${this.path}": ` +
              (closed ? `the agent closed the connection (${msg(err)})` : msg(err)),
            { cause: err },
          ),
        );
      }
    });
    return reply;
  }

  /** Closes the connection; pending requests are rejected. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Queued lines are written first; requests still awaiting a reply are then rejected.
    if (!this.#failure) await this.#writes;
    this.#closeConn();
    await this.#writes;
    await this.#reader;
    this.#stopTimer();
  }

  async #read(): Promise<void> {
    const source: ByteReader = {
      read: async (p) => {
        const n = await this.#conn.read(p);
        this.#lastActivity = performance.now();
        return n;
      },
    };
    try {
      for await (const ev of readLines(source, MAX_REPLY_BYTES)) {
        // The waiter stays first in the list until its reply checks out, so a failure here
        // rejects it together with every later one.
        const waiter = this.#waiters[0];
        if (!waiter) return this.#fail(new TypeError(`${REPLY_PREFIX}a reply without a request`));
        const reply = this.#check(ev, waiter);
        if (reply instanceof Error) return this.#fail(reply);
        this.#waiters.shift();
        waiter.resolve(reply);
        if (this.#waiters.length === 0) this.#stopTimer();
      }
      this.#fail(new ConnectionLostError(`Control socket "${this.path}" closed by the agent`));
    } catch (err) {
      this.#fail(
        this.#closed ? new Error(`Control socket "${this.path}" closed`) : new ConnectionLostError(
          `Cannot read from control socket "${this.path}": ${msg(err)}`,
        ),
      );
    }
  }

  /** The reply in `ev` for `waiter`, or why it is unusable. */
  #check(ev: LineEvent, waiter: Waiter): Reply | Error {
    if (ev.kind === "tooLong") {
      return new RangeError(`${REPLY_PREFIX}a reply line exceeds ${MAX_REPLY_BYTES} bytes`);
    }
    if (ev.kind === "badUtf8") return new SyntaxError(`${REPLY_PREFIX}a reply is not UTF-8`);
    let reply: Reply;
    try {
      reply = parseReply(ev.text);
    } catch (err) {
      const detail = msg(err).replace(/^Cannot parse reply: /, "");
      return new SyntaxError(REPLY_PREFIX + detail, { cause: err });
    }
    const id = reply.msg_id;
    // The server answers `"msg_id": null` (always an error) when it cannot read the request's.
    if (id !== waiter.msgId && !(id === null && !reply.ok)) {
      return new TypeError(
        `${REPLY_PREFIX}its msg_id ${JSON.stringify(id)} does not match the request's ` +
          `${JSON.stringify(waiter.msgId)} (protocol error)`,
      );
    }
    return reply;
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    this.#stopTimer();
    for (const w of this.#waiters.splice(0)) w.reject(this.#failure);
    // The connection is unusable now: closing it ends a blocked read or write.
    this.#closeConn();
  }

  #closeConn(): void {
    if (this.#connClosed) return;
    this.#connClosed = true;
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }

  /** Starts the idle check while replies are awaited (one timer, re-armed for the remainder). */
  #armTimer(): void {
    if (this.#idleTimeoutMs === 0 || this.#timer !== undefined || this.#failure) return;
    const due = this.#lastActivity + this.#idleTimeoutMs - performance.now();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#waiters.length === 0 || this.#failure) return;
      if (performance.now() - this.#lastActivity >= this.#idleTimeoutMs) {
        this.#fail(
          new Deno.errors.TimedOut(
            `No reply from the agent on control socket "${this.path}" within ` +
              formatMs(this.#idleTimeoutMs),
          ),
        );
      } else this.#armTimer();
    }, Math.max(0, due));
  }

  #stopTimer(): void {
    if (this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/** Whether `path` exists and is not a socket (a regular file, a directory; links followed). */
async function isNonSocket(path: string): Promise<boolean> {
  try {
    return !(await Deno.stat(path)).isSocket;
  } catch {
    return false;
  }
}

function parseOrNull(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return null;
  }
}

/** `60 s`, `1.5 s`, `250 ms`. */
function formatMs(ms: number): string {
  return ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`;
}

function msg(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
