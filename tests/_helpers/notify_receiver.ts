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
import {
  type Libc,
  libc,
  type NotifyAddress,
  NotifySocket,
  sockaddrUn,
} from "../../lib/sys/mod.ts";

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

/** One datagram received by {@linkcode listenNotify}. */
export interface Notification {
  readonly text: string;
  /** When it arrived (`Date.now()`), to compare with the agent's log timestamps. */
  readonly at: number;
}

/** A socket file receiving notifications; `[Symbol.asyncDispose]` closes and removes it. */
export interface NotifyListener extends AsyncDisposable {
  /** The socket's path (`NOTIFY_SOCKET`). */
  readonly path: string;
  /** Every datagram received so far, in order. */
  readonly messages: readonly Notification[];
  /**
   * Resolves with the index of the first message from index `from` on that `match` accepts;
   * rejects after `timeoutMs` (a failure bound only: the timer is always cleared).
   */
  waitFor(match: (message: string) => boolean, timeoutMs: number, from?: number): Promise<number>;
  /**
   * Resolves once every datagram sent to the socket so far is in {@linkcode messages}: sends a
   * marker of its own (through FFI) and waits for it, since the queue is first in, first out.
   * Lets a test assert that nothing more came, without sleeping.
   */
  flush(timeoutMs: number): Promise<void>;
}

/** Binds `path` (its directory must exist) and collects what arrives. */
export function listenNotify(path: string): NotifyListener {
  const conn = Deno.listenDatagram({ transport: "unixpacket", path });
  const messages: Notification[] = [];
  const waiters = new Set<() => void>();
  const pump = (async () => {
    try {
      for (;;) {
        const [data] = await conn.receive();
        messages.push({ text: new TextDecoder().decode(data), at: Date.now() });
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
        const i = messages.findIndex((m, j) => j >= from && match(m.text));
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
            `No matching notification within ${timeoutMs} ms; got ${
              JSON.stringify(messages.map((m) => m.text))
            }`,
          ),
        );
      }, timeoutMs);
      return promise.finally(() => clearTimeout(timer));
    },
    async flush(timeoutMs) {
      const c = libc();
      if (c === null) throw new Error("flush() needs FFI on the C library");
      const marker = `X-FLUSH=${crypto.randomUUID()}`;
      const tx = NotifySocket.open(c, { kind: "path", path });
      try {
        tx.send(marker);
      } finally {
        tx.close();
      }
      const i = await this.waitFor((m) => m === marker, timeoutMs);
      messages.splice(i, 1);
    },
    async [Symbol.asyncDispose]() {
      conn.close();
      await pump;
      await Deno.remove(path).catch(() => {});
    },
  };
}
