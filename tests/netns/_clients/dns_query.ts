// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * One DNS query from inside the agent's namespace; prints the outcome as JSON.
 *
 * Usage: `dns_query.ts VIA SERVER PORT NAME TYPE` with VIA
 * - `resolve`: `Deno.resolveDns` (UDP) → `{"answers":[…]}` or `{"error":"<error name>"}`;
 * - `udp` / `tcp`: a raw query built with npm:dns-packet (not our own codec), sent over UDP or
 *   over TCP with the RFC 1035 §4.2.2 two-byte length prefix → `{"rcode","aa","answers":
 *   [{"name","type","data"}],"authorities":[{"name","type"}]}`.
 * @module
 */
import packet from "dns-packet";

const [via, server, port, name, type] = Deno.args;
if (!via || !server || !port || !name || !type) {
  throw new TypeError("Cannot query: usage dns_query.ts VIA SERVER PORT NAME TYPE");
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

async function rawQuery(): Promise<Message> {
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
  const msg = packet.decode(reply) as Message;
  if (msg.id !== id) throw new Error(`Cannot match DNS reply: id ${msg.id}, sent ${id}`);
  return msg;
}

if (via === "resolve") {
  try {
    const answers = await Deno.resolveDns(name, type as "A", {
      nameServer: { ipAddr: server, port: Number(port) },
    });
    print({ answers });
  } catch (err) {
    print({ error: (err as Error).name });
  }
} else if (via === "udp" || via === "tcp") {
  const msg = await rawQuery();
  print({
    rcode: msg.rcode,
    aa: (msg.flags & FLAG_AA) !== 0,
    answers: msg.answers.map((a) => ({ name: a.name, type: a.type, data: a.data })),
    authorities: msg.authorities.map((a) => ({ name: a.name, type: a.type })),
  });
} else {
  throw new TypeError(`Cannot query via "${via}": expected resolve, udp or tcp`);
}
