// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * A fake agent on a Unix socket for client and `ctl` tests: it records every line received
 * and answers each with whatever the test's `respond` returns (a reply, garbage, or nothing),
 * so misbehaving peers can be played without a real agent.
 * @module
 */
import { readLines } from "../../lib/control/mod.ts";

/**
 * What the fake sends for one received line: a line (newline added), or nothing. Lines of a
 * connection are answered one after another, so a promise delays every later reply too.
 */
export type Respond = (line: string) => string | null | Promise<string | null>;

/** A listening fake agent. */
export interface FakeAgent {
  readonly path: string;
  /** Every line received, in order, over all connections. */
  readonly received: string[];
  /** Connections accepted so far. */
  readonly connections: () => number;
  /** Stops listening, closes every connection and waits for them to end. */
  close(): Promise<void>;
}

/** `header.msg_id` of a request line (undefined when it has none or is not JSON). */
export function msgIdOf(line: string): unknown {
  try {
    return JSON.parse(line)?.header?.msg_id;
  } catch {
    return undefined;
  }
}

/** A reply echoing the request's msg_id, as the agent does. */
export function okReplyTo(line: string, content?: unknown): string {
  return JSON.stringify({ msg_id: msgIdOf(line) ?? null, ok: true, content });
}

/** Starts a fake agent on `path` answering each line with `respond`. */
export function startFakeAgent(path: string, respond: Respond): FakeAgent {
  const listener = Deno.listen({ transport: "unix", path });
  const received: string[] = [];
  const conns = new Set<Deno.UnixConn>();
  const served: Promise<void>[] = [];
  let accepted = 0;

  const serve = async (conn: Deno.UnixConn) => {
    try {
      for await (const ev of readLines(conn, 1 << 20)) {
        if (ev.kind !== "line") continue;
        received.push(ev.text);
        const out = await respond(ev.text);
        if (out === null) continue;
        const bytes = new TextEncoder().encode(out + "\n");
        for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
      }
    } catch {
      // The client went away or close() closed the connection.
    } finally {
      conns.delete(conn);
      try {
        conn.close();
      } catch { /* already closed */ }
    }
  };

  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        accepted++;
        conns.add(conn);
        served.push(serve(conn));
      }
    } catch { /* listener closed */ }
  })();

  return {
    path,
    received,
    connections: () => accepted,
    async close() {
      listener.close();
      await accepting;
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed meanwhile */ }
      }
      await Promise.all(served);
    },
  };
}
