// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * A bounded pool of UDP sockets for upstream DNS queries, each on a port the kernel picks at
 * random, shared by several outstanding queries (RFC 5452 §9.2) and closed as soon as none is
 * outstanding on it or, once it has carried its share of queries, when the last one settles,
 * so source ports keep changing. An answer is taken only from the query's upstream address and
 * port, with the query's ID (unique among the socket's outstanding queries, chosen here) and its
 * question (RFC 5452 §9.1); anything else is ignored and the query keeps waiting.
 *
 * It replaced a fresh socket and a 64 KiB receive buffer per exchange: under a flood of unique
 * names to forward those took the agent's peak RSS to 211–215 MiB (bench/README.md).
 * @module
 */
import { formatHostPort, formatIp, parseIp, unmapIpv4 } from "../netaddr/mod.ts";

/** An upstream resolver address (the same shape as `Upstream` in `nameservers.ts`). */
export interface UdpPeer {
  readonly hostname: string;
  readonly port: number;
}

/** Bounds of a {@linkcode UdpQueryPool}; the defaults are what the agent uses. */
export interface UdpQueryPoolOptions {
  /** Sockets open at a time, both families together. @default 64 */
  readonly maxSockets?: number;
  /** Queries outstanding on one socket at a time. @default 64 */
  readonly maxOutstanding?: number;
  /**
   * Queries outstanding on a socket before the pool opens another for the next query (while
   * fewer than `maxSockets` are open). @default 8
   */
  readonly fillTo?: number;
  /** Queries one socket carries in all; then it takes no more and closes when drained. @default 100 */
  readonly queriesPerSocket?: number;
  /**
   * Queries that may wait for room when every socket is at its bound (each at most until its
   * signal aborts); one more fails at once. @default maxSockets × maxOutstanding
   */
  readonly maxWaiting?: number;
  /** Source of 16-bit IDs. @default {crypto.getRandomValues} */
  readonly randomId?: () => number;
}

/** Thrown when every socket of the pool is at its bound; the caller does not wait. */
export class UdpPoolFullError extends RangeError {
  override name = "UdpPoolFullError";
}

/** A UDP answer larger than any DNS message fits; one buffer per open socket. */
const RECEIVE_SIZE = 65535;

/** A query and its caller's promise. */
interface Pending {
  readonly peer: UdpPeer;
  readonly accept: (answer: Uint8Array) => boolean;
  readonly resolve: (answer: Uint8Array) => void;
  readonly reject: (err: unknown) => void;
  readonly signal: AbortSignal;
  onAbort: () => void;
}

/** A query waiting for room in the pool. */
interface Waiter extends Pending {
  readonly query: Uint8Array;
}

interface PooledSocket {
  readonly conn: Deno.DatagramConn;
  readonly v6: boolean;
  /** Outstanding queries by ID. */
  readonly pending: Map<number, Pending>;
  /** Queries sent on it so far. */
  sent: number;
  closed: boolean;
}

/** A host as compared by {@linkcode sameHost}: canonical address text and zone, if any. */
interface HostKey {
  readonly address: string;
  readonly zone: string | null;
}

function hostKey(host: string): HostKey {
  let h = host.replace(/^\[|\]$/g, "");
  let zone: string | null = null;
  const pct = h.indexOf("%");
  if (pct >= 0) [h, zone] = [h.slice(0, pct), h.slice(pct + 1)];
  const ip = parseIp(h);
  if (ip === null) return { address: h.toLowerCase(), zone };
  // IPv4-mapped IPv6 is the IPv4 address: a dual-stack socket reports an IPv4 peer so.
  return { address: formatIp(unmapIpv4(ip)), zone };
}

/**
 * Whether two host spellings are one address: `[v6]` brackets, case and every RFC 4291 §2.2
 * spelling of an IPv6 address (`2001:db8:0:0::53` is `2001:db8::53`, as Deno reports it),
 * IPv4-mapped IPv6 as its IPv4 address. A zone index (`fe80::1%eth0`, RFC 4007 §11) counts
 * only when both sides have one: Deno 2.9.6 reports the source of a datagram without it
 * (`fe80::1` for an answer from the upstream `fe80::1%eth0`), so requiring it would make
 * every answer from a link-local resolver, as routers announce them (RFC 8106), look foreign.
 * Which link a reply came on is not visible to us; the port, ID and question still must
 * match (RFC 5452 §9.1).
 */
export function sameHost(a: string, b: string): boolean {
  if (a === b) return true; // every answer from an upstream spelled as Deno reports it
  const x = hostKey(a);
  const y = hostKey(b);
  if (x.address !== y.address) return false;
  return x.zone === null || y.zone === null || x.zone === y.zone;
}

function cryptoId(): number {
  return crypto.getRandomValues(new Uint16Array(1))[0]!;
}

function positiveInt(what: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(
      `Cannot create UDP query pool: ${what} ${value} is not a positive integer`,
    );
  }
  return value;
}

/**
 * Sends DNS queries over a bounded set of shared UDP sockets and matches their answers.
 *
 * At most `maxSockets` sockets are open; a query goes to a random open socket of its address
 * family with fewer than `fillTo` outstanding, else to a new socket while fewer than
 * `maxSockets` are open, else to a random open socket with fewer than `maxOutstanding`.
 * When none has room the query waits, oldest first, until its signal aborts; at most
 * `maxWaiting` do, and one more fails at once with {@linkcode UdpPoolFullError}, so memory
 * stays bounded when an upstream stops answering (dnsmasq drops such queries too,
 * `dns-forward-max`), while the short gaps of a burst (retired sockets draining) cost a wait
 * rather than a SERVFAIL.
 */
export class UdpQueryPool {
  readonly #maxSockets: number;
  readonly #maxOutstanding: number;
  readonly #queriesPerSocket: number;
  readonly #fillTo: number;
  readonly #randomId: () => number;
  readonly #sockets = new Set<PooledSocket>();
  /** Sockets still taking queries (not retired, not closed), per family. */
  readonly #open: [PooledSocket[], PooledSocket[]] = [[], []];
  readonly #maxWaiting: number;
  #opened = 0;
  /** Queries waiting for room, oldest first (at most `maxWaiting`). */
  readonly #waiting: Waiter[] = [];
  /** Receive buffers of closed sockets, for the next ones (at most `maxSockets`). */
  readonly #spare: Uint8Array[] = [];

  constructor(options: UdpQueryPoolOptions = {}) {
    this.#maxSockets = positiveInt("maxSockets", options.maxSockets ?? 64);
    this.#maxOutstanding = positiveInt("maxOutstanding", options.maxOutstanding ?? 64);
    if (this.#maxOutstanding > 65536) {
      throw new RangeError(
        `Cannot create UDP query pool: maxOutstanding ${this.#maxOutstanding} exceeds the 65536 IDs`,
      );
    }
    this.#queriesPerSocket = positiveInt("queriesPerSocket", options.queriesPerSocket ?? 100);
    this.#fillTo = Math.min(positiveInt("fillTo", options.fillTo ?? 8), this.#maxOutstanding);
    this.#randomId = options.randomId ?? cryptoId;
    this.#maxWaiting = options.maxWaiting ?? this.#maxSockets * this.#maxOutstanding;
    if (!Number.isInteger(this.#maxWaiting) || this.#maxWaiting < 0) {
      throw new RangeError(
        `Cannot create UDP query pool: maxWaiting ${this.#maxWaiting} is not a non-negative integer`,
      );
    }
  }

  /** Number of open sockets. */
  get openSockets(): number {
    return this.#sockets.size;
  }

  /** Sockets opened since the pool was created. */
  get socketsOpened(): number {
    return this.#opened;
  }

  /** Number of queries waiting for room in the pool. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Number of queries waiting for an answer. */
  get outstanding(): number {
    let n = 0;
    for (const s of this.#sockets) n += s.pending.size;
    return n;
  }

  /**
   * Sends `query` to `peer` and resolves with the first datagram from `peer`'s address and port
   * carrying the query's ID that `accept`s (a copy); rejects when `signal` aborts (with its
   * reason), when sending fails, or at once with {@linkcode UdpPoolFullError}. The ID in bytes
   * 0–1 of `query` is replaced by one unique among the outstanding queries of the socket used
   * (RFC 5452 §9.2), so `accept` must read the ID from `query`.
   */
  query(
    peer: UdpPeer,
    query: Uint8Array,
    accept: (answer: Uint8Array) => boolean,
    signal: AbortSignal,
  ): Promise<Uint8Array> {
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<Uint8Array>((resolve, reject) => {
      const w: Waiter = { peer, query, accept, signal, resolve, reject, onAbort: () => {} };
      const sock = this.#pick(peer.hostname.includes(":"));
      if (sock !== null) return this.#send(sock, w);
      if (this.#waiting.length >= this.#maxWaiting) {
        return reject(
          new UdpPoolFullError(
            `Cannot send DNS query to ${
              formatHostPort(peer.hostname, peer.port)
            }: all ${this.#maxSockets} upstream sockets are busy and ${this.#maxWaiting} queries wait for one`,
          ),
        );
      }
      w.onAbort = () => {
        const i = this.#waiting.indexOf(w);
        if (i >= 0) this.#waiting.splice(i, 1);
        reject(signal.reason);
      };
      signal.addEventListener("abort", w.onAbort, { once: true });
      this.#waiting.push(w);
    });
  }

  /** Sends a query on `sock` under a fresh ID unique on it. */
  #send(sock: PooledSocket, w: Waiter): void {
    const { peer, query, signal, reject } = w;
    let id = this.#randomId() & 0xffff;
    while (sock.pending.has(id)) id = this.#randomId() & 0xffff;
    query[0] = id >> 8;
    query[1] = id & 0xff;
    if (++sock.sent >= this.#queriesPerSocket) this.#retire(sock);
    const p: Pending = { ...w, onAbort: () => {} };
    p.onAbort = () => {
      this.#settle(sock, id);
      reject(signal.reason);
    };
    sock.pending.set(id, p);
    signal.addEventListener("abort", p.onAbort, { once: true });
    sock.conn.send(query, { transport: "udp", hostname: peer.hostname, port: peer.port })
      .catch((err) => {
        if (sock.pending.get(id) !== p) return;
        this.#settle(sock, id);
        reject(err);
      });
  }

  /** Queries waiting for room go out, oldest first, while there is room for them. */
  #serveWaiting(): void {
    while (this.#waiting.length > 0) {
      const w = this.#waiting[0]!;
      let sock: PooledSocket | null;
      try {
        sock = this.#pick(w.peer.hostname.includes(":"));
      } catch (err) {
        sock = null;
        this.#waiting.shift();
        w.signal.removeEventListener("abort", w.onAbort);
        w.reject(err); // no socket could be opened (descriptor limit): this query fails
        continue;
      }
      if (sock === null) return;
      this.#waiting.shift();
      w.signal.removeEventListener("abort", w.onAbort);
      this.#send(sock, w);
    }
  }

  /**
   * A socket for one more query: a random open one with fewer than `fillTo` outstanding, else a
   * new one while fewer than `maxSockets` are open, else a random one with room, else null.
   */
  #pick(v6: boolean): PooledSocket | null {
    const open = this.#open[v6 ? 1 : 0];
    // Random start, then the first that fits: every socket is as likely as its neighbours.
    const start = Math.floor(Math.random() * open.length);
    for (let i = 0; i < open.length; i++) {
      const s = open[(start + i) % open.length]!;
      if (s.pending.size < this.#fillTo) return s;
    }
    if (this.#sockets.size < this.#maxSockets) return this.#openSocket(v6);
    for (let i = 0; i < open.length; i++) {
      const s = open[(start + i) % open.length]!;
      if (s.pending.size < this.#maxOutstanding) return s;
    }
    return null;
  }

  #openSocket(v6: boolean): PooledSocket {
    const conn = Deno.listenDatagram({
      transport: "udp",
      hostname: v6 ? "::" : "0.0.0.0",
      port: 0,
    });
    const sock: PooledSocket = {
      conn,
      v6,
      pending: new Map(),
      sent: 0,
      closed: false,
    };
    this.#opened++;
    this.#sockets.add(sock);
    this.#open[v6 ? 1 : 0].push(sock);
    void this.#receive(sock, this.#spare.pop() ?? new Uint8Array(RECEIVE_SIZE));
    return sock;
  }

  async #receive(sock: PooledSocket, buf: Uint8Array): Promise<void> {
    try {
      for (;;) {
        let got: [Uint8Array, Deno.Addr];
        try {
          got = await sock.conn.receive(buf);
        } catch (err) {
          if (!sock.closed) this.#fail(sock, err);
          return;
        }
        try {
          this.#dispatch(sock, got[0], got[1] as Deno.NetAddr);
        } catch (err) {
          // Never a rejection nobody handles: the socket's queries fail with the error.
          this.#fail(sock, err);
          return;
        }
      }
    } finally {
      if (this.#spare.length < this.#maxSockets) this.#spare.push(buf);
    }
  }

  #dispatch(sock: PooledSocket, data: Uint8Array, from: Deno.NetAddr): void {
    if (data.length < 12) return;
    const id = (data[0]! << 8) | data[1]!;
    const p = sock.pending.get(id);
    if (p === undefined) return;
    if (from.port !== p.peer.port || !sameHost(from.hostname, p.peer.hostname)) return;
    if (!p.accept(data)) return;
    const answer = data.slice();
    this.#settle(sock, id);
    p.resolve(answer);
  }

  /** Forgets a query; a socket left without outstanding queries is closed. */
  #settle(sock: PooledSocket, id: number): void {
    const p = sock.pending.get(id);
    if (p === undefined) return;
    sock.pending.delete(id);
    p.signal.removeEventListener("abort", p.onAbort);
    if (sock.pending.size === 0) this.#close(sock);
    this.#serveWaiting();
  }

  /** A receive error other than our own close: every query on the socket fails with it. */
  #fail(sock: PooledSocket, err: unknown): void {
    this.#retire(sock);
    const pending = [...sock.pending.values()];
    for (const id of [...sock.pending.keys()]) this.#settle(sock, id);
    this.#close(sock);
    for (const p of pending) p.reject(err);
  }

  #retire(sock: PooledSocket): void {
    const open = this.#open[sock.v6 ? 1 : 0];
    const i = open.indexOf(sock);
    if (i >= 0) open.splice(i, 1);
  }

  #close(sock: PooledSocket): void {
    if (sock.closed) return;
    sock.closed = true;
    this.#retire(sock);
    this.#sockets.delete(sock);
    sock.conn.close();
    this.#serveWaiting();
  }
}
