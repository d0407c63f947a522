// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Scenarios 1–3 of issue 7: TCP throughput (iperf3, 1 and 8 streams), short connections and
 * keep-alive requests (wrk, 50 connections), through each system in turn, alternating the
 * order every repetition.
 * @module
 */
import { attempt, type BenchContext } from "../lib/context.ts";
import type { HostPort } from "../lib/baselines.ts";
import { P50_MS as P50, P99_MS as P99 } from "../lib/results.ts";
import { rotate } from "../lib/stats.ts";
import { iperf, wrk } from "../lib/tools.ts";

/** Where one system under test listens. */
export interface TcpSystem {
  readonly name: string;
  /** Forwards to the iperf3 server. */
  readonly iperf: HostPort;
  /** Forwards to the HTTP backend. */
  readonly http: HostPort;
}

/** Connections wrk keeps open (issue 7: "wrk 50 connections"). */
export const WRK_CONNECTIONS = 50;

const GBPS = { key: "gbps", label: "Gbit/s", digits: 2, higherIsBetter: true } as const;
const RPS = { key: "rps", label: "req/s", digits: 0, higherIsBetter: true } as const;

/** Scenario 1: iperf3 throughput, 1 and 8 streams. */
export async function runThroughput(
  ctx: BenchContext,
  systems: readonly TcpSystem[],
): Promise<void> {
  for (const streams of [1, 8]) {
    const group = `tcp-${streams}`;
    ctx.results.declare({
      id: group,
      scenario: 1,
      title: `TCP throughput through a VIP, ${streams} stream${
        streams > 1 ? "s" : ""
      } (iperf3, ${ctx.seconds} s)`,
      reference: "direct",
      metrics: [GBPS],
      systems: systems.map((s) => s.name),
    });
    ctx.log(`scenario 1: ${streams} stream(s)`);
    for (let rep = 0; rep < ctx.reps; rep++) {
      for (const s of rotate(systems, rep)) {
        await attempt(ctx, group, s.name, rep, () => iperf(s.iperf, streams, ctx.seconds));
      }
    }
  }
}

/** Scenarios 2 and 3: wrk with `Connection: close`, then with keep-alive (each when asked). */
export async function runHttp(
  ctx: BenchContext,
  systems: readonly TcpSystem[],
  which: { readonly close: boolean; readonly keepAlive: boolean },
): Promise<void> {
  const cases = [...(which.close ? [true] : []), ...(which.keepAlive ? [false] : [])];
  for (const close of cases) {
    const group = close ? "http-close" : "http-keepalive";
    ctx.results.declare({
      id: group,
      scenario: close ? 2 : 3,
      title: close
        ? `Short connections: HTTP with "Connection: close" (wrk, ${WRK_CONNECTIONS} connections, ${ctx.seconds} s)`
        : `Keep-alive requests (wrk, ${WRK_CONNECTIONS} connections, ${ctx.seconds} s)`,
      reference: "direct",
      metrics: [RPS, P50, P99],
      systems: systems.map((s) => s.name),
    });
    ctx.log(`scenario ${close ? 2 : 3}: ${group}`);
    for (let rep = 0; rep < ctx.reps; rep++) {
      for (const s of rotate(systems, rep)) {
        const url = `http://${s.http.host}:${s.http.port}/`;
        await attempt(ctx, group, s.name, rep, () => wrk(url, WRK_CONNECTIONS, ctx.seconds, close));
      }
    }
  }
}
