// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * DNS queries from inside the agent's namespace, one after another; prints a JSON array with
 * one outcome per query.
 *
 * Usage: `dns_query.ts SERVER PORT QUERIES` where QUERIES is a JSON array of
 * `{"via","name","type"}` (and an optional `"source"`, the local address a `udp` query is sent
 * from) with `via`
 * - `resolve`: `Deno.resolveDns` (UDP) → `{"answers":[…]}` or `{"error":"<error name>"}`;
 * - `udp` / `tcp`: a raw query sent over UDP or over TCP with the RFC 1035 §4.2.2 two-byte
 *   length prefix → `{"rcode","aa","answers":[{"name","type","data"}],"authorities":
 *   [{"name","type"}]}` (`data`: the address of A, the target of CNAME/PTR/NS).
 *
 * The query is written and the reply read by the small RFC 1035 §4.1 code below, not by the
 * agent's codec (lib/dns/message.ts), so a bug there cannot hide itself on both ends.
 * @module
 */

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
  rcode: string;
  answers: Record[];
  authorities: Record[];
}

const FLAG_RD = 0x0100;
const FLAG_AA = 0x0400;
const TYPES: { readonly [code: number]: string | undefined } = {
  1: "A",
  2: "NS",
  5: "CNAME",
  6: "SOA",
  12: "PTR",
  16: "TXT",
  28: "AAAA",
  33: "SRV",
};
const RCODES = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"];

/** One question for `name` (ASCII labels), class IN, with RD set. */
function buildQuery(id: number, name: string, type: string): Uint8Array {
  const code = Object.entries(TYPES).find(([, t]) => t === type)?.[0];
  if (code === undefined) throw new TypeError(`Cannot query: type "${type}" is not supported`);
  const out = [id >> 8, id & 0xff, FLAG_RD >> 8, FLAG_RD & 0xff, 0, 1, 0, 0, 0, 0, 0, 0];
  for (const label of name.split(".").filter((l) => l !== "")) {
    out.push(label.length, ...[...label].map((c) => c.charCodeAt(0)));
  }
  out.push(0, Number(code) >> 8, Number(code) & 0xff, 0, 1);
  return new Uint8Array(out);
}

/** The name at `pos` (following compression pointers) and the offset after it. */
function readName(b: Uint8Array, pos: number): [string, number] {
  const labels: string[] = [];
  let end = -1;
  for (let jumps = 0; jumps < 64;) {
    const len = b[pos];
    if (len === undefined) throw new Error("Cannot read DNS reply: name runs past the end");
    if (len === 0) return [labels.join("."), end < 0 ? pos + 1 : end];
    if ((len & 0xc0) === 0xc0) {
      if (end < 0) end = pos + 2;
      pos = ((len & 0x3f) << 8) | b[pos + 1]!;
      jumps++;
      continue;
    }
    labels.push(String.fromCharCode(...b.subarray(pos + 1, pos + 1 + len)));
    pos += 1 + len;
  }
  throw new Error("Cannot read DNS reply: too many compression pointers");
}

function parseReply(b: Uint8Array): Message {
  const u16 = (at: number) => (b[at]! << 8) | b[at + 1]!;
  const flags = u16(2);
  let pos = 12;
  for (let i = 0; i < u16(4); i++) pos = readName(b, pos)[1] + 4;
  const section = (count: number): Record[] => {
    const out: Record[] = [];
    for (let i = 0; i < count; i++) {
      const [name, at] = readName(b, pos);
      const code = u16(at);
      const type = TYPES[code] ?? `UNKNOWN_${code}`;
      const start = at + 10;
      pos = start + u16(at + 8);
      if (pos > b.length) throw new Error("Cannot read DNS reply: record runs past the end");
      let data: unknown;
      if (type === "A") data = [...b.subarray(start, pos)].join(".");
      else if (type === "CNAME" || type === "PTR" || type === "NS") data = readName(b, start)[0];
      out.push(data === undefined ? { name, type } : { name, type, data });
    }
    return out;
  };
  const answers = section(u16(6));
  const authorities = section(u16(8));
  return {
    id: u16(0),
    flags,
    rcode: RCODES[flags & 0xf] ?? `RCODE_${flags & 0xf}`,
    answers,
    authorities,
  };
}

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

async function rawQuery(
  via: string,
  name: string,
  type: string,
  source = "0.0.0.0",
): Promise<Message> {
  const id = crypto.getRandomValues(new Uint16Array(1))[0]!;
  const query = buildQuery(id, name, type);
  const target = { hostname: server!, port: Number(port) };
  let reply: Uint8Array;
  if (via === "udp") {
    const sock = Deno.listenDatagram({ transport: "udp", hostname: source, port: 0 });
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
  const msg = parseReply(reply);
  if (msg.id !== id) throw new Error(`Cannot match DNS reply: id ${msg.id}, sent ${id}`);
  return msg;
}

async function query(via: string, name: string, type: string, source?: string): Promise<unknown> {
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
    const msg = await rawQuery(via, name, type, source);
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
for (
  const q of JSON.parse(queries) as { via: string; name: string; type: string; source?: string }[]
) {
  results.push(await query(q.via, q.name, q.type, q.source));
}
print(results);
