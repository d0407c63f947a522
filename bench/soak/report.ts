// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The soak's samples, the verdict per measure (growing or flat) and the Markdown report. Pure,
 * so the verdict rules are tested (`bench/tests/soak_report_test.ts`).
 * @module
 */

/** The measures taken of one agent at one time. `null`: could not be read. */
export interface AgentSample {
  /** Seconds since the churn started (negative: the idle start, before any service). */
  readonly t: number;
  readonly vmRssMiB: number | null;
  readonly rssAnonMiB: number | null;
  readonly rssFileMiB: number | null;
  readonly fds: number | null;
  /**
   * `fds` less `listenSockets`: the descriptors that do not follow the pool's size (which
   * drifts by ±10 services), so the one to watch for a descriptor leak.
   */
  readonly otherFds: number | null;
  readonly threads: number | null;
  /** IPv4 addresses on the VIP device (the DNS address included). */
  readonly addresses: number | null;
  /** Services with a VIP (`ctl get -o json`). */
  readonly vips: number | null;
  /** `VIP:port/tcp` listeners the status lists (the DNS listeners excluded). */
  readonly listeners: number | null;
  /** LISTEN sockets on VIPs in the kernel's table of the agent's namespace. */
  readonly listenSockets: number | null;
  /** Service ports the agent should listen on (the TCP ports of services with a VIP). */
  readonly wantedListeners: number | null;
  /** Sample lines on `/metrics`. */
  readonly series: number | null;
  /** Series labelled with a service that no longer exists (see `orphanSeries`). */
  readonly orphanSeries: number | null;
  /** `edgemesh_process_heap_used_bytes` in MiB. */
  readonly heapMiB: number | null;
}

/** A measure the verdict looks at: its key, unit and what growth is noise. */
export interface Measure {
  readonly key: keyof Omit<AgentSample, "t">;
  readonly label: string;
  /** Growth at or below `max(abs, rel × first)` is flat. */
  readonly abs: number;
  readonly rel: number;
  /**
   * The measure follows the pool's size, which drifts by ±10 services (±5 %) as the churn goes:
   * shown, not judged (its verdict is "follows pool"); the derived measures (`otherFds`,
   * `orphanSeries`) and the exact end checks are what find a leak there.
   */
  readonly followsPool?: boolean;
  /**
   * The measure swings with garbage collection (a sawtooth: the V8 heap, anonymous memory): a
   * sample taken just before a collection is a peak, not growth. Judged on its lows instead:
   * `first` and `last` are the lowest sample of the first and of the last third of the window.
   */
  readonly swings?: boolean;
}

/**
 * The measures and their noise bounds. Counts that follow the service pool (addresses,
 * listeners, series) move by its ±10 services (about ±5 %) as the churn goes on; memory moves
 * with garbage V8 has not collected yet.
 */
export const MEASURES: readonly Measure[] = [
  { key: "vmRssMiB", label: "VmRSS MiB", abs: 8, rel: 0.1, swings: true },
  { key: "rssAnonMiB", label: "RssAnon MiB", abs: 6, rel: 0.1, swings: true },
  { key: "rssFileMiB", label: "RssFile MiB", abs: 4, rel: 0.1 },
  { key: "heapMiB", label: "V8 heap MiB", abs: 4, rel: 0.15, swings: true },
  { key: "fds", label: "fds", abs: 8, rel: 0.05, followsPool: true },
  { key: "otherFds", label: "fds − LISTEN sockets", abs: 8, rel: 0.1 },
  { key: "threads", label: "threads", abs: 2, rel: 0 },
  { key: "addresses", label: "edge0 addresses", abs: 4, rel: 0.08, followsPool: true },
  { key: "vips", label: "services with VIP", abs: 4, rel: 0.08, followsPool: true },
  { key: "listeners", label: "VIP listeners", abs: 6, rel: 0.08, followsPool: true },
  { key: "listenSockets", label: "LISTEN sockets", abs: 6, rel: 0.08, followsPool: true },
  { key: "wantedListeners", label: "wanted listeners", abs: 6, rel: 0.08, followsPool: true },
  { key: "series", label: "/metrics series", abs: 20, rel: 0.08, followsPool: true },
  { key: "orphanSeries", label: "series of deleted services", abs: 10, rel: 0 },
];

/**
 * Growth of one measure between the first sample after warm-up and the last (for a measure that
 * {@linkcode Measure.swings}, between the lows of the first and last thirds).
 */
export interface Growth {
  readonly key: Measure["key"];
  readonly label: string;
  readonly first: number | null;
  readonly last: number | null;
  readonly growth: number | null;
  /** Least-squares slope over the samples after warm-up, per hour. */
  readonly slopePerHour: number | null;
  readonly verdict: "growing" | "flat" | "follows pool" | "n/a";
}

/** Slope (per unit of `x`) of the least-squares line through the points; null below 2 points. */
export function slope(points: readonly (readonly [number, number])[]): number | null {
  if (points.length < 2) return null;
  const n = points.length;
  const mx = points.reduce((s, p) => s + p[0], 0) / n;
  const my = points.reduce((s, p) => s + p[1], 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? null : num / den;
}

/**
 * Growing when both the growth (last − first) and the trend (slope × the span of the samples)
 * exceed the measure's noise bound: one high last sample is not a trend, and a trend that the
 * last sample does not show has levelled off.
 */
export function growthOf(m: Measure, samples: readonly AgentSample[]): Growth {
  const points = samples
    .map((s) => [s.t, s[m.key]] as const)
    .filter((p): p is readonly [number, number] => p[1] !== null);
  const base = { key: m.key, label: m.swings ? `${m.label} (lows)` : m.label };
  if (points.length < 2) {
    return { ...base, first: null, last: null, growth: null, slopePerHour: null, verdict: "n/a" };
  }
  const s = slope(points);
  const span = points[points.length - 1]![0] - points[0]![0];
  let first = points[0]![1];
  let last = points[points.length - 1]![1];
  let trend = (s ?? 0) * span;
  if (m.swings) {
    // The lows of the first and last thirds; the trend is theirs too (a peak is not one).
    const k = Math.ceil(points.length / 3);
    first = Math.min(...points.slice(0, k).map((p) => p[1]));
    last = Math.min(...points.slice(-k).map((p) => p[1]));
    trend = last - first;
  }
  const bound = Math.max(m.abs, m.rel * Math.abs(first));
  const growth = last - first;
  return {
    ...base,
    first,
    last,
    growth,
    slopePerHour: s === null ? null : s * 3600,
    verdict: m.followsPool ? "follows pool" : growth > bound && trend > bound ? "growing" : "flat",
  };
}

/** The samples from `warmupS` seconds on (the verdict's window). */
export function afterWarmup(samples: readonly AgentSample[], warmupS: number): AgentSample[] {
  return samples.filter((s) => s.t >= warmupS);
}

function cell(v: number | null, digits = 1): string {
  if (v === null) return "–";
  return Number.isInteger(v) ? String(v) : v.toFixed(digits);
}

/** The Markdown table of every sample of one agent. */
export function samplesTable(samples: readonly AgentSample[]): string {
  const head = ["t (s)", ...MEASURES.map((m) => m.label)];
  const rows = samples.map((
    s,
  ) => [String(Math.round(s.t)), ...MEASURES.map((m) => cell(s[m.key]))]);
  return markdownTable(head, rows);
}

/** The Markdown table of the growth and verdict per measure. */
export function growthTable(growths: readonly Growth[]): string {
  const head = ["measure", "first after warm-up", "last", "growth", "slope /h", "verdict"];
  const rows = growths.map((g) => [
    g.label,
    cell(g.first),
    cell(g.last),
    g.growth === null ? "–" : (g.growth > 0 ? "+" : "") + cell(g.growth),
    cell(g.slopePerHour),
    g.verdict,
  ]);
  return markdownTable(head, rows);
}

/** A Markdown table (pipes in cells escaped). */
export function markdownTable(
  head: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const esc = (c: string) => c.replaceAll("|", "\\|");
  const line = (cells: readonly string[]) => `| ${cells.map(esc).join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}

/** One check of the end state: what was expected, what was seen. */
export interface EndCheck {
  readonly what: string;
  readonly want: string;
  readonly got: string;
  readonly ok: boolean;
}

/**
 * The end-state checks of one agent once every service is deleted: no VIP listener, only the
 * DNS address on the device, and the fds of its idle start give or take `fdSlack` (descriptors
 * an agent keeps once it has had traffic: see bench/README.md "Soak").
 */
export function endChecks(
  idle: AgentSample,
  end: AgentSample,
  fdSlack: number,
): EndCheck[] {
  const fdOk = idle.fds !== null && end.fds !== null && Math.abs(end.fds - idle.fds) <= fdSlack;
  return [
    { what: "VIP listeners", want: "0", got: cell(end.listeners), ok: end.listeners === 0 },
    {
      what: "LISTEN sockets on VIPs",
      want: "0",
      got: cell(end.listenSockets),
      ok: end.listenSockets === 0,
    },
    {
      what: "edge0 addresses",
      want: "1 (the DNS address)",
      got: cell(end.addresses),
      ok: end.addresses === 1,
    },
    {
      what: "fds",
      want: `${cell(idle.fds)} ± ${fdSlack} (idle start)`,
      got: cell(end.fds),
      ok: fdOk,
    },
  ];
}
