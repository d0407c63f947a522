// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The control-socket client used by `edgemesh ctl`: sends messages without waiting
 * (pipelined) and matches replies to requests by order, which the server guarantees.
 * @module
 */
import { readLines } from "./lines.ts";
import { parseReply, type Reply } from "./protocol.ts";

/** Replies can be large (`get` of thousands of services); bound them anyway. */
const MAX_REPLY_BYTES = 256 * 1024 * 1024;

interface Waiter {
  resolve(r: Reply): void;
  reject(e: Error): void;
}

/** A connection to the agent's control socket. */
export class ControlClient {
  /** The socket path. */
  readonly path: string;
  readonly #conn: Deno.UnixConn;
  readonly #waiters: Waiter[] = [];
  readonly #reader: Promise<void>;
  #writes: Promise<void> = Promise.resolve();
  #failure: Error | null = null;
  #closed = false;

  private constructor(path: string, conn: Deno.UnixConn) {
    this.path = path;
    this.#conn = conn;
    this.#reader = this.#read();
  }

  /**
   * Connects to the agent.
   * @throws {Error} `Cannot connect to control socket "<path>": <reason> (is the agent running?)`
   */
  static async connect(path: string): Promise<ControlClient> {
    try {
      return new ControlClient(path, await Deno.connect({ transport: "unix", path }));
    } catch (err) {
      const reason = err instanceof Deno.errors.NotFound
        ? "no such socket"
        : err instanceof Deno.errors.ConnectionRefused
        ? "connection refused"
        : err instanceof Error
        ? err.message
        : String(err);
      throw new Error(
        `Cannot connect to control socket "${path}": ${reason} (is the agent running?)`,
        { cause: err },
      );
    }
  }

  /**
   * Sends one message (an envelope object, or a raw line as a string) and resolves with its
   * reply. Calls may overlap: they are written and answered in call order.
   */
  send(message: unknown): Promise<Reply> {
    if (this.#failure) return Promise.reject(this.#failure);
    const line = typeof message === "string" ? message : JSON.stringify(message);
    if (line.includes("\n")) {
      return Promise.reject(new TypeError("Cannot send message: it contains a newline"));
    }
    const reply = new Promise<Reply>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    const bytes = new TextEncoder().encode(line + "\n");
    this.#writes = this.#writes.then(async () => {
      if (this.#failure) return;
      try {
        let off = 0;
        while (off < bytes.length) off += await this.#conn.write(bytes.subarray(off));
      } catch (err) {
        this.#fail(new Error(`Cannot send to control socket "${this.path}": ${msg(err)}`));
      }
    });
    return reply;
  }

  /** Closes the connection; pending requests are rejected. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#writes;
    try {
      this.#conn.close();
    } catch { /* already closed */ }
    await this.#reader;
  }

  async #read(): Promise<void> {
    try {
      for await (const ev of readLines(this.#conn, MAX_REPLY_BYTES)) {
        if (ev.kind !== "line") throw new Error(`reply line is ${ev.kind}`);
        const waiter = this.#waiters.shift();
        if (!waiter) throw new Error("unexpected reply without a request");
        waiter.resolve(parseReply(ev.text));
      }
      this.#fail(new Error(`Control socket "${this.path}" closed by the agent`));
    } catch (err) {
      this.#fail(
        this.#closed
          ? new Error(`Control socket "${this.path}" closed`)
          : new Error(`Cannot read from control socket "${this.path}": ${msg(err)}`),
      );
    }
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    for (const w of this.#waiters.splice(0)) w.reject(this.#failure);
  }
}

function msg(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
