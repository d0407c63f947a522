// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Runs the load generators (iperf3, wrk, dnsperf) and turns their output into metrics.
 * Every runner takes an optional argv prefix (`ip netns exec <ns>`) to run the client in
 * another namespace.
 * @module
 */
import {
  parseDnsperfSummary,
  parseDnsperfVerboseLine,
  parseIperf3,
  parseWrk,
  type WrkResult,
} from "./parse.ts";
import { runCmd } from "./proc.ts";
import { percentile } from "./stats.ts";
import type { HostPort } from "./baselines.ts";

/** iperf3 client: receiver throughput in Gbit/s. */
export async function iperf(
  target: HostPort,
  streams: number,
  seconds: number,
  prefix: readonly string[] = [],
): Promise<{ gbps: number }> {
  const argv = [
    ...prefix,
    "iperf3",
    "-c",
    target.host,
    "-p",
    String(target.port),
    "-t",
    String(seconds),
    "-P",
    String(streams),
    "-J",
  ];
  const r = await runCmd(argv, { timeoutMs: (seconds + 30) * 1000 });
  try {
    return { gbps: parseIperf3(r.stdout).bitsPerSecond / 1e9 };
  } catch (err) {
    throw new Error(
      `iperf3 to ${target.host}:${target.port} failed (code ${r.code}): ${
        (err as Error).message
      } ${r.stderr.trim()}`,
    );
  }
}

/**
 * wrk with `--latency`, two threads; `close` adds `Connection: close` so every request is a new
 * connection. A run with socket errors or non-2xx answers is a failure, not a number.
 */
export async function wrk(
  url: string,
  connections: number,
  seconds: number,
  close: boolean,
  prefix: readonly string[] = [],
): Promise<{ rps: number; p50: number; p99: number }> {
  const argv = [
    ...prefix,
    "wrk",
    "-t2",
    `-c${connections}`,
    `-d${seconds}s`,
    "--latency",
    ...(close ? ["-H", "Connection: close"] : []),
    url,
  ];
  const r = await runCmd(argv, { timeoutMs: (seconds + 30) * 1000 });
  let w: WrkResult;
  try {
    w = parseWrk(r.stdout);
  } catch (err) {
    throw new Error(
      `wrk ${url} failed (code ${r.code}): ${(err as Error).message} ${r.stderr.trim()}`,
    );
  }
  if (w.socketErrors > 0 || w.non2xx > 0 || w.requests === 0) {
    throw new Error(
      `wrk ${url}: ${w.socketErrors} socket errors, ${w.non2xx} non-2xx of ${w.requests} requests`,
    );
  }
  return { rps: w.requestsPerSec, p50: w.p50Ms, p99: w.p99Ms };
}

/**
 * dnsperf with `clients` clients for `seconds`, `-v` per-query lines written to `outFile` for
 * the latency percentiles. Lost queries or unexpected response codes make the run fail.
 */
export async function dnsperf(
  server: HostPort,
  queryFile: string,
  clients: number,
  seconds: number,
  outFile: string,
  expectRcode = "NOERROR",
): Promise<{ qps: number; p50: number; p99: number }> {
  const argv = [
    "dnsperf",
    "-s",
    server.host,
    "-p",
    String(server.port),
    "-d",
    queryFile,
    "-c",
    String(clients),
    "-l",
    String(seconds),
    "-v",
  ];
  const r = await runCmd(argv, { timeoutMs: (seconds + 30) * 1000, stdoutFile: outFile });
  const latencies: number[] = [];
  let summaryText = "";
  const rcodes = new Map<string, number>();
  const file = await Deno.open(outFile);
  const decoder = new TextDecoder();
  let partial = "";
  for await (const chunk of file.readable) {
    partial += decoder.decode(chunk, { stream: true });
    const lines = partial.split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      const q = parseDnsperfVerboseLine(line);
      if (q) {
        latencies.push(q.latencyMs);
        rcodes.set(q.rcode, (rcodes.get(q.rcode) ?? 0) + 1);
      } else if (!line.startsWith(">")) summaryText += line + "\n";
    }
  }
  summaryText += partial;
  let summary;
  try {
    summary = parseDnsperfSummary(summaryText);
  } catch (err) {
    throw new Error(
      `dnsperf to ${server.host} failed (code ${r.code}): ${
        (err as Error).message
      } ${r.stderr.trim()}`,
    );
  }
  const unexpected = [...rcodes].filter(([code]) => code !== expectRcode);
  if (summary.queriesLost > summary.queriesSent * 0.001 || unexpected.length > 0) {
    throw new Error(
      `dnsperf to ${server.host}: ${summary.queriesLost} of ${summary.queriesSent} lost, ` +
        `answers ${JSON.stringify(Object.fromEntries(rcodes))}`,
    );
  }
  const sorted = Float64Array.from(latencies).sort();
  return {
    qps: summary.queriesPerSecond,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
  };
}
