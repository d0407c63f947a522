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
import { runCmd } from "../lib/proc.ts";
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

/**
 * Seconds of the unrecorded run every system gets before the repetitions of each measurement:
 * the agent is a long-running daemon, and its cold start (the JIT compiling the hot paths,
 * proxy worker threads started under load, `proxyThreads: auto`) is not its throughput. The
 * start is measured on its own (scenario 7). Every system gets the same warm-up.
 */
export const WARMUP_SECONDS = 2;

/**
 * Drops the TIME_WAIT sockets the previous run left in this namespace (`ss -K`), so every run
 * starts from the same TCP state. Without it, a run inherited the full TIME_WAIT table
 * (`tcp_max_tw_buckets`) of the one before: after `direct` (40 000 connections/s), the next
 * system's connects to the backend searched a crowded port space (measured: edgemesh 16 203
 * req/s right after `direct` against 19 610 and 20 013 in its other repetitions; HAProxy
 * 19 410 against 22 033 and 20 718), and the rotation put edgemesh after `direct` in two of
 * three repetitions.
 */
export async function flushTimeWait(ctx: BenchContext): Promise<void> {
  const r = await runCmd(["ss", "-K", "-t", "state", "time-wait"], { timeoutMs: 10_000 });
  if (r.code !== 0) ctx.log(`  cannot drop TIME_WAIT sockets (ss -K): ${r.stderr.trim()}`);
}

/**
 * One unrecorded run of `run` per system (failures are logged; the repetitions report them),
 * each after {@linkcode flushTimeWait} unless `flush` is false (runs in other namespaces).
 */
export async function warmUp<S extends { readonly name: string }>(
  ctx: BenchContext,
  group: string,
  systems: readonly S[],
  run: (s: S) => Promise<unknown>,
  flush = true,
): Promise<void> {
  for (const s of systems) {
    try {
      if (flush) await flushTimeWait(ctx);
      await run(s);
    } catch (err) {
      ctx.log(`  ${group} ${s.name} warm-up: FAILED ${(err as Error).message.split("\n")[0]}`);
    }
  }
}

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
    await warmUp(ctx, group, systems, (s) => iperf(s.iperf, streams, WARMUP_SECONDS));
    for (let rep = 0; rep < ctx.reps; rep++) {
      for (const s of rotate(systems, rep)) {
        await flushTimeWait(ctx);
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
    const urlOf = (s: TcpSystem) => `http://${s.http.host}:${s.http.port}/`;
    await warmUp(ctx, group, systems, (s) => wrk(urlOf(s), WRK_CONNECTIONS, WARMUP_SECONDS, close));
    for (let rep = 0; rep < ctx.reps; rep++) {
      for (const s of rotate(systems, rep)) {
        await flushTimeWait(ctx);
        const url = urlOf(s);
        await attempt(ctx, group, s.name, rep, () => wrk(url, WRK_CONNECTIONS, ctx.seconds, close));
      }
    }
  }
}
