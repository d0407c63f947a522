// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * A TCP test server: an accept loop handing each connection to a handler, and a `close()` that
 * stops accepting, closes every open connection and awaits every handler. Used in-process by
 * the fixtures and by the backend scripts run inside namespaces.
 * @module
 */
import { isConnectionAcceptError } from "../../lib/sys/tcp.ts";

/** A running TCP server; `close()` closes it and every open connection. */
export interface TcpServer extends AsyncDisposable {
  readonly hostname: string;
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  close(): Promise<void>;
}

/**
 * Listens on `hostname:port` (port 0: any free port) and runs `handle` per connection. A
 * handler's error (a reset peer, a close by `close()`) is swallowed; the connection is closed
 * after the handler ends.
 */
export function serveTcp(
  handle: (conn: Deno.TcpConn) => Promise<void>,
  hostname = "127.0.0.1",
  port = 0,
): TcpServer {
  const listener = Deno.listen({ hostname, port });
  const conns = new Set<Deno.TcpConn>();
  const tasks = new Set<Promise<void>>();
  let accepted = 0;
  let closed = false;
  const loop = (async () => {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (err) {
        // A client that reset before its accept (ENOTCONN) is gone; anything else ends the loop.
        if (isConnectionAcceptError(err) && !closed) continue;
        return;
      }
      accepted++;
      conns.add(conn);
      const t: Promise<void> = handle(conn).catch(() => {}).finally(() => {
        conns.delete(conn);
        tasks.delete(t);
        try {
          conn.close();
        } catch { /* closed */ }
      });
      tasks.add(t);
    }
  })();
  const close = async () => {
    if (!closed) {
      closed = true;
      try {
        listener.close();
      } catch { /* closed */ }
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
    }
    await loop;
    await Promise.all(tasks);
  };
  return {
    hostname,
    port: listener.addr.port,
    get accepted() {
      return accepted;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Writes all of `p`. */
export async function writeAll(
  w: { write(p: Uint8Array): Promise<number> },
  p: Uint8Array,
): Promise<void> {
  let off = 0;
  while (off < p.length) off += await w.write(p.subarray(off));
}

/** Echoes every byte read from `conn` back to it; at EOF half-closes. */
export async function echoUntilEof(conn: Deno.TcpConn, bufSize = 64 * 1024): Promise<void> {
  const buf = new Uint8Array(bufSize);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    await writeAll(conn, buf.subarray(0, n));
  }
  await conn.closeWrite();
}
