// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Stand-ins for systemd's notification socket (`sd_notify(3)`): Unix datagram sockets a test
 * binds and reads what the agent sends to them, without sleeps.
 *
 * - {@linkcode abstractReceiver}: an abstract name, bound through the agent's own FFI helpers
 *   (Deno cannot bind abstract names); datagrams are read synchronously, since a Unix datagram
 *   is in the queue by the time the sender's `sendto()` returns.
 * - {@linkcode listenNotify}: a socket file (`Deno.listenDatagram`, `--unstable-net`), for a
 *   real agent in another process; waits on arriving datagrams with a bound.
 * @module
 */
import { type Libc, type NotifyAddress, sockaddrUn } from "../../lib/sys/mod.ts";

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const MSG_DONTWAIT = 0x40;

/** A bound abstract socket; `drain()` returns every datagram queued so far. */
export interface AbstractReceiver extends Disposable {
  readonly address: NotifyAddress & { kind: "abstract" };
  /** `NOTIFY_SOCKET` for this receiver (`@name`). */
  readonly env: string;
  drain(): string[];
}

/** Binds a fresh abstract name `sdn-<random>` in this network namespace. */
export function abstractReceiver(c: Libc): AbstractReceiver {
  const address = { kind: "abstract", name: `sdn-${crypto.randomUUID()}` } as const;
  const fd = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new Error("socket(AF_UNIX) failed");
  const name = sockaddrUn(address);
  if (c.bind(fd, name, name.length) !== 0) {
    c.close(fd);
    throw new Error(`bind(@${address.name}) failed`);
  }
  const buf = new Uint8Array(4096);
  return {
    address,
    env: `@${address.name}`,
    drain() {
      const out: string[] = [];
      for (;;) {
        const n = c.recv(fd, buf, BigInt(buf.length), MSG_DONTWAIT);
        if (n < 0) return out; // EAGAIN: the queue is empty
        out.push(new TextDecoder().decode(buf.subarray(0, n)));
      }
    },
    [Symbol.dispose]: () => void c.close(fd),
  };
}

/** A socket file receiving notifications; `[Symbol.asyncDispose]` closes and removes it. */
export interface NotifyListener extends AsyncDisposable {
  /** The socket's path (`NOTIFY_SOCKET`). */
  readonly path: string;
  /** Every datagram received so far, in order. */
  readonly messages: readonly string[];
  /**
   * Resolves with the index of the first message from index `from` on that `match` accepts;
   * rejects after `timeoutMs` (a failure bound only: the timer is always cleared).
   */
  waitFor(match: (message: string) => boolean, timeoutMs: number, from?: number): Promise<number>;
}

/** Binds `path` (its directory must exist) and collects what arrives. */
export function listenNotify(path: string): NotifyListener {
  const conn = Deno.listenDatagram({ transport: "unixpacket", path });
  const messages: string[] = [];
  const waiters = new Set<() => void>();
  const pump = (async () => {
    try {
      for (;;) {
        const [data] = await conn.receive();
        messages.push(new TextDecoder().decode(data));
        for (const w of [...waiters]) w();
      }
    } catch {
      // closed by dispose
    }
  })();
  return {
    path,
    messages,
    waitFor(match, timeoutMs, from = 0) {
      const { promise, resolve, reject } = Promise.withResolvers<number>();
      const look = () => {
        const i = messages.findIndex((m, j) => j >= from && match(m));
        if (i < 0) return;
        waiters.delete(look);
        resolve(i);
      };
      waiters.add(look);
      look();
      const timer = setTimeout(() => {
        waiters.delete(look);
        reject(
          new Error(
            `No matching notification within ${timeoutMs} ms; got ${JSON.stringify(messages)}`,
          ),
        );
      }, timeoutMs);
      return promise.finally(() => clearTimeout(timer));
    },
    async [Symbol.asyncDispose]() {
      conn.close();
      await pump;
      await Deno.remove(path).catch(() => {});
    },
  };
}
