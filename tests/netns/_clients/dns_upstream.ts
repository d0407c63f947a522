// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * A tiny upstream DNS server (UDP) for the agent's forwarder, run inside the agent's namespace.
 *
 * Usage: `dns_upstream.ts [--listen=HOST:PORT] NAME=IPV4…`. Listens on 127.0.0.1 port 0 unless
 * `--listen` says otherwise (resolv.conf can name only port 53), prints the port on one line, answers A queries for the given names (TTL 60) and NXDOMAIN for anything else. At
 * stdin EOF it prints the JSON list of names it was asked for and exits 0. The addresses are
 * only data in answers; nothing is sent to them.
 * @module
 */
import {
  decodeMessage,
  type DnsMessage,
  encodeMessage,
  Rcode,
  RRType,
  typeToString,
} from "../../../lib/dns/message.ts";

const listen = Deno.args.find((a) => a.startsWith("--listen="))?.slice("--listen=".length);
const [hostname, port] = listen === undefined
  ? ["127.0.0.1", 0]
  : [listen.slice(0, listen.lastIndexOf(":")), Number(listen.slice(listen.lastIndexOf(":") + 1))];
const records = new Map(
  Deno.args.filter((a) => !a.startsWith("--")).map((a) => {
    const [name, ip] = a.split("=");
    return [name!.toLowerCase(), ip!] as const;
  }),
);
const sock = Deno.listenDatagram({ transport: "udp", hostname, port });
// deno-lint-ignore no-console
console.log((sock.addr as Deno.NetAddr).port);

const asked: string[] = [];
const serving = (async () => {
  for (;;) {
    let data: Uint8Array, from: Deno.Addr;
    try {
      [data, from] = await sock.receive();
    } catch {
      return;
    }
    let q: DnsMessage;
    try {
      q = decodeMessage(data).value;
    } catch {
      continue;
    }
    const question = q.questions[0];
    if (!question) continue;
    const name = question.name.toLowerCase();
    asked.push(`${name} ${typeToString(question.type)}`);
    const ip = records.get(name);
    const reply = encodeMessage({
      id: q.id,
      response: true,
      recursionAvailable: true,
      recursionDesired: q.recursionDesired,
      rcode: ip === undefined ? Rcode.NXDOMAIN : Rcode.NOERROR,
      questions: q.questions,
      answers: ip !== undefined && question.type === RRType.A
        ? [{ type: "A", name: question.name, ttl: 60, class: 1, address: ip }]
        : [],
    });
    await sock.send(reply, from).catch(() => {});
  }
})();

for await (const _ of Deno.stdin.readable) { /* until EOF */ }
sock.close();
await serving;
// deno-lint-ignore no-console
console.log(JSON.stringify(asked));
