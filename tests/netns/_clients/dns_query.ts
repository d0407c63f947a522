// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * DNS queries from inside the agent's namespace, one after another; prints a JSON array with
 * one outcome per query.
 *
 * Usage: `dns_query.ts SERVER PORT QUERIES` where QUERIES is a JSON array of
 * `{"via","name","type"}` with `via`
 * - `resolve`: `Deno.resolveDns` (UDP) → `{"answers":[…]}` or `{"error":"<error name>"}`;
 * - `udp` / `tcp`: a raw query built with npm:dns-packet (not our own codec), sent over UDP or
 *   over TCP with the RFC 1035 §4.2.2 two-byte length prefix → `{"rcode","aa","answers":
 *   [{"name","type","data"}],"authorities":[{"name","type"}]}`.
 * @module
 */
import { Buffer } from "node:buffer";
import packet from "dns-packet";

const [server, port, queries] = Deno.args;
if (!server || !port || !queries) {
  throw new TypeError("Cannot query: usage dns_query.ts SERVER PORT QUERIES");
}

interface Record {
  name: string;
  type: string;
  data?: unknown;
}
interface Message {
  id: number;
  flags: number;
  rcode?: string;
  answers: Record[];
  authorities: Record[];
}

const FLAG_RD = 0x0100;
const FLAG_AA = 0x0400;

function print(v: unknown): void {
  // deno-lint-ignore no-console
  console.log(JSON.stringify(v));
}

async function readExactly(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let off = 0;
  while (off < n) {
    const r = await conn.read(out.subarray(off));
    if (r === null) throw new Error(`Cannot read DNS reply: EOF after ${off} of ${n} bytes`);
    off += r;
  }
  return out;
}

async function rawQuery(via: string, name: string, type: string): Promise<Message> {
  const id = crypto.getRandomValues(new Uint16Array(1))[0]!;
  const query = packet.encode({
    type: "query",
    id,
    flags: FLAG_RD,
    questions: [{ type, name, class: "IN" }],
  }) as Uint8Array;
  const target = { hostname: server!, port: Number(port) };
  let reply: Uint8Array;
  if (via === "udp") {
    const sock = Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port: 0 });
    try {
      await sock.send(query, { transport: "udp", ...target });
      const timer = setTimeout(() => sock.close(), 5000);
      try {
        [reply] = await sock.receive();
      } finally {
        clearTimeout(timer);
      }
    } finally {
      try {
        sock.close();
      } catch { /* closed by the timer */ }
    }
  } else {
    const conn = await Deno.connect(target);
    try {
      const framed = new Uint8Array(2 + query.length);
      new DataView(framed.buffer).setUint16(0, query.length);
      framed.set(query, 2);
      let w = 0;
      while (w < framed.length) w += await conn.write(framed.subarray(w));
      const len = new DataView((await readExactly(conn, 2)).buffer).getUint16(0);
      reply = await readExactly(conn, len);
    } finally {
      conn.close();
    }
  }
  const msg = packet.decode(Buffer.from(reply)) as Message;
  if (msg.id !== id) throw new Error(`Cannot match DNS reply: id ${msg.id}, sent ${id}`);
  return msg;
}

async function query(via: string, name: string, type: string): Promise<unknown> {
  if (via === "resolve") {
    try {
      const answers = await Deno.resolveDns(name, type as "A", {
        nameServer: { ipAddr: server!, port: Number(port) },
      });
      return { answers };
    } catch (err) {
      return { error: (err as Error).name };
    }
  }
  if (via === "udp" || via === "tcp") {
    const msg = await rawQuery(via, name, type);
    return {
      rcode: msg.rcode,
      aa: (msg.flags & FLAG_AA) !== 0,
      answers: msg.answers.map((a) => ({ name: a.name, type: a.type, data: a.data })),
      authorities: msg.authorities.map((a) => ({ name: a.name, type: a.type })),
    };
  }
  throw new TypeError(`Cannot query via "${via}": expected resolve, udp or tcp`);
}

const results: unknown[] = [];
for (const q of JSON.parse(queries) as { via: string; name: string; type: string }[]) {
  results.push(await query(q.via, q.name, q.type));
}
print(results);
