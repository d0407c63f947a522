// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/** Loopback DNS clients and a scriptable upstream server for the DNS integration tests. */
import {
  decodeMessage,
  type DnsMessage,
  type DnsMessageInit,
  encodeMessage,
  frameTcp,
  type Upstream,
} from "../../lib/dns/mod.ts";

/** Rejects after `ms` (a failure bound, cleared by the caller via the returned cancel). */
function bound(ms: number, what: string): { promise: Promise<never>; cancel: () => void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out: ${what}`)), ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

/** Sends one datagram and returns the first answer (5 s failure bound). */
export async function udpQuery(
  server: Upstream,
  query: Uint8Array,
  hostname = "127.0.0.1",
): Promise<Uint8Array> {
  const conn = Deno.listenDatagram({ transport: "udp", hostname, port: 0 });
  const b = bound(5000, "UDP answer");
  try {
    await conn.send(query, { transport: "udp", hostname: server.hostname, port: server.port });
    const [data] = await Promise.race([conn.receive(), b.promise]);
    return data;
  } finally {
    b.cancel();
    conn.close();
  }
}

async function readFull(conn: Deno.Conn, buf: Uint8Array): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const n = await conn.read(buf.subarray(off));
    if (n === null) throw new Error("connection closed");
    off += n;
  }
}

/** Sends queries over one TCP connection and reads one answer each. */
export async function tcpQueries(server: Upstream, queries: Uint8Array[]): Promise<Uint8Array[]> {
  const conn = await Deno.connect({ hostname: server.hostname, port: server.port });
  const b = bound(5000, "TCP answers");
  try {
    const work = (async () => {
      for (const q of queries) await conn.write(frameTcp(q));
      const out: Uint8Array[] = [];
      for (let i = 0; i < queries.length; i++) {
        const len = new Uint8Array(2);
        await readFull(conn, len);
        const body = new Uint8Array((len[0]! << 8) | len[1]!);
        await readFull(conn, body);
        out.push(body);
      }
      return out;
    })();
    return await Promise.race([work, b.promise]);
  } finally {
    b.cancel();
    conn.close();
  }
}

/** A query for `name`/`type` (numeric) with optional EDNS. */
export function query(
  name: string,
  type: number,
  init: Partial<DnsMessageInit> = {},
): Uint8Array {
  return encodeMessage({
    id: 0x1234,
    recursionDesired: true,
    questions: [{ name, type, class: 1 }],
    ...init,
  });
}

/** Decodes an answer. */
export function decode(bytes: Uint8Array): DnsMessage {
  return decodeMessage(bytes).value;
}

/** What a fake upstream answers: a message, "drop" (no answer) for UDP, per transport. */
export type UpstreamScript = (
  q: DnsMessage,
  transport: "udp" | "tcp",
) => Partial<DnsMessageInit> | "drop";

/** A scriptable upstream DNS server on 127.0.0.1 (UDP and TCP on one port). */
export class FakeUpstream {
  readonly udp!: Deno.DatagramConn;
  readonly tcp!: Deno.TcpListener;
  /** Queries seen, as `transport name type`. */
  readonly seen: string[] = [];
  readonly #loops: Promise<unknown>;
  #script: UpstreamScript;

  constructor(script: UpstreamScript) {
    this.#script = script;
    // UDP on port 0, then TCP on the same port; retry when another process holds it for TCP.
    for (let attempt = 0;; attempt++) {
      const udp = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
      try {
        this.tcp = Deno.listen({ hostname: "127.0.0.1", port: (udp.addr as Deno.NetAddr).port });
        this.udp = udp;
        break;
      } catch (err) {
        udp.close();
        if (attempt > 20) throw err;
      }
    }
    this.#loops = Promise.all([this.#udpLoop(), this.#tcpLoop()]);
  }

  get address(): Upstream {
    return { hostname: "127.0.0.1", port: (this.udp.addr as Deno.NetAddr).port };
  }

  #answer(bytes: Uint8Array, transport: "udp" | "tcp"): Uint8Array | null {
    const q = decode(bytes);
    const qq = q.questions[0]!;
    this.seen.push(`${transport} ${qq.name} ${qq.type}`);
    const r = this.#script(q, transport);
    if (r === "drop") return null;
    return encodeMessage({
      id: q.id,
      response: true,
      recursionDesired: q.recursionDesired,
      recursionAvailable: true,
      questions: q.questions,
      edns: q.edns ? { udpPayloadSize: 1232, version: 0, dnssecOk: q.edns.dnssecOk } : null,
      ...r,
    });
  }

  async #udpLoop(): Promise<void> {
    try {
      for (;;) {
        const [data, peer] = await this.udp.receive();
        const a = this.#answer(data, "udp");
        if (a) await this.udp.send(a, peer);
      }
    } catch { /* closed */ }
  }

  async #tcpLoop(): Promise<void> {
    const conns: Promise<void>[] = [];
    try {
      for (;;) {
        const conn = await this.tcp.accept();
        conns.push((async () => {
          try {
            const len = new Uint8Array(2);
            await readFull(conn, len);
            const body = new Uint8Array((len[0]! << 8) | len[1]!);
            await readFull(conn, body);
            const a = this.#answer(body, "tcp");
            if (a) await conn.write(frameTcp(a));
          } catch {
            /* client went away */
          } finally {
            conn.close();
          }
        })());
      }
    } catch { /* closed */ }
    await Promise.all(conns);
  }

  async close(): Promise<void> {
    this.udp.close();
    this.tcp.close();
    await this.#loops;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** A UDP socket that receives and never answers (an upstream that times out). */
export class SilentUpstream {
  readonly udp = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  received = 0;
  readonly #loop: Promise<void>;
  constructor() {
    this.#loop = (async () => {
      try {
        for (;;) {
          await this.udp.receive();
          this.received++;
        }
      } catch { /* closed */ }
    })();
  }
  get address(): Upstream {
    return { hostname: "127.0.0.1", port: (this.udp.addr as Deno.NetAddr).port };
  }
  async [Symbol.asyncDispose](): Promise<void> {
    this.udp.close();
    await this.#loop;
  }
}
