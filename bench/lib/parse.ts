// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Parsers for the output of the load generators the suite drives: `wrk --latency`,
 * `iperf3 -J` and `dnsperf` (summary and `-v` per-query lines). Pure: text in, numbers out.
 * @module
 */

/** What one `wrk --latency` run measured. */
export interface WrkResult {
  readonly requestsPerSec: number;
  readonly requests: number;
  /** Latency percentiles from "Latency Distribution", milliseconds. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Sum of connect/read/write/timeout socket errors. */
  readonly socketErrors: number;
  /** "Non-2xx or 3xx responses" (0 when the line is absent). */
  readonly non2xx: number;
}

const DURATION_UNITS: Readonly<Record<string, number>> = { us: 0.001, ms: 1, s: 1000, m: 60000 };

/**
 * Converts a wrk duration such as `812.00us`, `1.23ms` or `2.00s` to milliseconds.
 * @throws {SyntaxError} on anything else
 */
export function parseWrkDuration(text: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(us|ms|s|m)$/.exec(text.trim());
  if (!m) throw new SyntaxError(`Cannot parse wrk duration "${text}"`);
  return Number(m[1]) * (DURATION_UNITS[m[2] as string] as number);
}

/**
 * Parses `wrk --latency` output.
 * @throws {SyntaxError} when "Requests/sec" or the 50%/99% latency lines are missing
 */
export function parseWrk(text: string): WrkResult {
  const rps = /^Requests\/sec:\s+([0-9.]+)/m.exec(text);
  if (!rps) throw new SyntaxError('Cannot parse wrk output: no "Requests/sec" line');
  const p50 = /^\s+50%\s+(\S+)/m.exec(text);
  const p99 = /^\s+99%\s+(\S+)/m.exec(text);
  if (!p50 || !p99) {
    throw new SyntaxError(
      'Cannot parse wrk output: no latency distribution (run with "--latency")',
    );
  }
  const total = /^\s+([0-9]+) requests in /m.exec(text);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  return {
    requestsPerSec: Number(rps[1]),
    requests: total ? Number(total[1]) : 0,
    p50Ms: parseWrkDuration(p50[1] as string),
    p99Ms: parseWrkDuration(p99[1] as string),
    socketErrors: errors ? errors.slice(1, 5).reduce((sum, n) => sum + Number(n), 0) : 0,
    non2xx: non2xx ? Number(non2xx[1]) : 0,
  };
}

/** What one `iperf3 -J` client run measured. */
export interface IperfResult {
  /** Receiver-side throughput, bits per second. */
  readonly bitsPerSecond: number;
  readonly streams: number;
  readonly retransmits: number;
}

/**
 * Parses `iperf3 -J` client output (receiver-side sum, which counts only delivered bytes).
 * @throws {SyntaxError} on invalid JSON, an `error` field, or missing `end.sum_received`
 */
export function parseIperf3(text: string): IperfResult {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new SyntaxError(`Cannot parse iperf3 output: ${(err as Error).message}`);
  }
  const root = doc as {
    error?: unknown;
    start?: { test_start?: { num_streams?: unknown } };
    end?: { sum_received?: { bits_per_second?: unknown }; sum_sent?: { retransmits?: unknown } };
  };
  if (typeof root.error === "string") {
    throw new SyntaxError(`Cannot parse iperf3 output: iperf3 reported "${root.error}"`);
  }
  const bps = root.end?.sum_received?.bits_per_second;
  if (typeof bps !== "number") {
    throw new SyntaxError(
      "Cannot parse iperf3 output: end.sum_received.bits_per_second is missing",
    );
  }
  const streams = root.start?.test_start?.num_streams;
  const retransmits = root.end?.sum_sent?.retransmits;
  return {
    bitsPerSecond: bps,
    streams: typeof streams === "number" ? streams : 1,
    retransmits: typeof retransmits === "number" ? retransmits : 0,
  };
}

/** The summary block dnsperf prints at the end of a run. */
export interface DnsperfSummary {
  readonly queriesSent: number;
  readonly queriesCompleted: number;
  readonly queriesLost: number;
  readonly queriesPerSecond: number;
  readonly avgLatencyMs: number;
  /** Response code → count, from "Response codes:". */
  readonly rcodes: Readonly<Record<string, number>>;
}

/**
 * Parses dnsperf's "Statistics:" block.
 * @throws {SyntaxError} when "Queries per second" or "Queries completed" is missing
 */
export function parseDnsperfSummary(text: string): DnsperfSummary {
  const num = (re: RegExp): number | null => {
    const m = re.exec(text);
    return m ? Number(m[1]) : null;
  };
  const qps = num(/^\s*Queries per second:\s+([0-9.]+)/m);
  const completed = num(/^\s*Queries completed:\s+([0-9]+)/m);
  if (qps === null || completed === null) {
    throw new SyntaxError('Cannot parse dnsperf output: no "Queries per second" statistics');
  }
  const rcodes: Record<string, number> = {};
  const line = /^\s*Response codes:\s+(.*)$/m.exec(text);
  if (line) {
    for (const m of (line[1] as string).matchAll(/([A-Z]+) ([0-9]+) \(/g)) {
      rcodes[m[1] as string] = Number(m[2]);
    }
  }
  return {
    queriesSent: num(/^\s*Queries sent:\s+([0-9]+)/m) ?? 0,
    queriesCompleted: completed,
    queriesLost: num(/^\s*Queries lost:\s+([0-9]+)/m) ?? 0,
    queriesPerSecond: qps,
    avgLatencyMs: (num(/^\s*Average Latency \(s\):\s+([0-9.]+)/m) ?? 0) * 1000,
    rcodes,
  };
}

/** One `dnsperf -v` response line: `> NOERROR name A 0.000357`. */
export interface DnsperfQueryLine {
  /** Response code, or "T" for a timeout and "I" for an interrupted query. */
  readonly rcode: string;
  readonly latencyMs: number;
}

/**
 * Parses one line of `dnsperf -v` output; returns `null` for lines that are not per-query
 * reports (status lines, statistics, timeouts without a latency).
 */
export function parseDnsperfVerboseLine(line: string): DnsperfQueryLine | null {
  if (!line.startsWith("> ")) return null;
  const fields = line.trim().split(/\s+/);
  if (fields.length < 3) return null;
  const latency = Number(fields[fields.length - 1]);
  if (!Number.isFinite(latency)) return null;
  return { rcode: fields[1] as string, latencyMs: latency * 1000 };
}

/**
 * Sums the samples of one metric family in Prometheus text format whose labels include every
 * `key="value"` pair of `labels` (e.g. the streams a tunnel opened: `{direction: "out"}`).
 */
export function sumMetric(
  text: string,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const labelText = m[2] ?? "";
    if (!Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) continue;
    const v = Number(m[3]);
    if (Number.isFinite(v)) sum += v;
  }
  return sum;
}
