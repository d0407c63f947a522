// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The DNS server's UDP side: a listen address's socket, Deno's own or a batched one
 * (`recvmmsg`/`sendmmsg`, see ./mmsg.ts), and the loops that serve it.
 *
 * The plain loop receives into one preallocated buffer and answers the fast path from a second
 * reused buffer, so a cluster-name query allocates almost nothing; it never stops on a bad
 * packet.
 * @module
 */
import type { Logger } from "../log/mod.ts";
import type { Reactor } from "../sys/reactor.ts";
import type { DnsHandler } from "./handler.ts";
import { MmsgSocket } from "./mmsg.ts";
import type { Upstream } from "./nameservers.ts";
import type { ServerTasks } from "./tasks.ts";
import { MAX_UDP_PAYLOAD } from "./wire.ts";

/** A UDP socket: Deno's own, or a batched one (`recvmmsg`/`sendmmsg`, see ./mmsg.ts). */
export type UdpSocket =
  | { readonly kind: "plain"; readonly conn: Deno.DatagramConn }
  | { readonly kind: "batched"; readonly sock: MmsgSocket };

export function closeUdp(u: UdpSocket): void {
  try {
    if (u.kind === "plain") u.conn.close();
    else u.sock.close();
  } catch { /* already closed */ }
}

export function bindUdp(addr: Upstream, batched: boolean): { udp: UdpSocket; port: number } {
  if (batched) {
    const sock = MmsgSocket.open(addr.hostname, addr.port);
    return { udp: { kind: "batched", sock }, port: sock.addr.port };
  }
  const conn = Deno.listenDatagram({ transport: "udp", hostname: addr.hostname, port: addr.port });
  return { udp: { kind: "plain", conn }, port: (conn.addr as Deno.NetAddr).port };
}

/** What the UDP loops share with the server running them. */
export interface UdpServing {
  readonly handler: DnsHandler;
  /** Forwarded answers still to send. */
  readonly tasks: ServerTasks;
  readonly log: Logger;
  /** The server closing: the loops end. */
  readonly signal: AbortSignal;
}

/** Serves a plain socket until the server closes (one of `udpLoops` per socket). */
export async function udpLoop(conn: Deno.DatagramConn, serving: UdpServing): Promise<void> {
  const { handler, tasks, log, signal } = serving;
  const inBuf = new Uint8Array(65536);
  // Fast answers fit the largest UDP payload we send; bigger ones take the slow path.
  const out = new Uint8Array(MAX_UDP_PAYLOAD);
  let errors = 0;
  while (!signal.aborted) {
    let data: Uint8Array;
    let peer: Deno.Addr;
    try {
      // Indexing, not array destructuring (which walks an iterator per packet).
      const r = await conn.receive(inBuf);
      data = r[0];
      peer = r[1];
      errors = 0;
    } catch (err) {
      if (signal.aborted) break;
      if (++errors >= 100) {
        log.error("DNS UDP socket keeps failing, stopping it", { error: err });
        break;
      }
      log.warn("DNS UDP receive failed", { error: err });
      continue;
    }
    try {
      const reply = handler.handle(data, (peer as Deno.NetAddr).hostname, false, out);
      if (reply === null) continue;
      if (reply instanceof Uint8Array) {
        await conn.send(reply, peer);
      } else {
        tasks.track(reply.then((r) => (r === null || signal.aborted) ? 0 : conn.send(r, peer)));
      }
    } catch (err) {
      if (signal.aborted) break;
      log.debug("DNS UDP send failed", { error: err });
    }
  }
}

/** Serves a batched socket: the same handler, answers sent per batch (see ./mmsg.ts). */
export function batchedLoop(
  sock: MmsgSocket,
  serving: UdpServing,
  reactor: Reactor | null,
): Promise<void> {
  const { handler, tasks, log, signal } = serving;
  return sock.serve(
    (data, peer, out) => {
      const reply = handler.handle(data, peer, false, out);
      if (reply === null || reply instanceof Uint8Array) return reply;
      const sent = reply.then((r) => (signal.aborted ? null : r));
      tasks.track(sent);
      return sent;
    },
    (err) => {
      if (!signal.aborted) log.warn("DNS UDP socket call failed", { error: err });
    },
    reactor,
  );
}
