// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Prometheus metric primitives (counter, gauge, histogram with labels) and the text exposition
 * format 0.0.4. Components receive a {@linkcode MetricsRegistry} and register their own metrics;
 * nothing here is global.
 *
 * A series lives until its owner removes it: `remove(labels)` on a counter, gauge or histogram
 * drops the series with exactly those labels (as Prometheus client libraries' `remove`), e.g.
 * when the object it describes is deleted. A series incremented again afterwards starts from 0.
 * @module
 */

/** Label values keyed by label name. */
export type Labels = Readonly<Record<string, string>>;

type Kind = "counter" | "gauge" | "histogram";

interface Family {
  readonly name: string;
  readonly help: string;
  readonly kind: Kind;
  render(out: string[]): void;
}

/**
 * A metric family as plain data: its rendered series (`name{labels}` → value). Another thread
 * (a proxy worker) sends these; {@linkcode MetricsRegistry.addSource} adds them to ours.
 */
export interface FamilySnapshot {
  readonly name: string;
  readonly help: string;
  readonly kind: Kind;
  /** Series name with rendered labels, and value; every series is additive across threads. */
  readonly series: readonly (readonly [string, number])[];
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/**
 * Rendered label keys per labels object: hot paths (the proxy, per connection) pass the same
 * frozen labels object each time, so the sort-and-join runs once per series, not per `inc`.
 */
const keyCache = new WeakMap<Labels, string>();

function labelKey(labels: Labels | undefined): string {
  if (!labels) return "";
  let k = keyCache.get(labels);
  if (k === undefined) {
    k = renderKey(labels);
    keyCache.set(labels, k);
  }
  return k;
}

function renderKey(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return "";
  return "{" + keys.map((k) => `${k}="${escapeLabel(labels[k] ?? "")}"`).join(",") + "}";
}

/**
 * The value of label `name` in a rendered series (`family{a="x",b="y"}`, as in
 * {@linkcode FamilySnapshot.series}), unescaped; undefined when the series has no such label.
 */
export function labelValue(series: string, name: string): string | undefined {
  let i = series.indexOf("{");
  if (i < 0) return undefined;
  i++;
  while (i < series.length && series[i] !== "}") {
    const eq = series.indexOf("=", i);
    if (eq < 0 || series[eq + 1] !== '"') return undefined;
    const label = series.slice(i, eq);
    let value = "";
    let j = eq + 2;
    for (; j < series.length && series[j] !== '"'; j++) {
      const c = series[j]!;
      if (c !== "\\") {
        value += c;
        continue;
      }
      const next = series[++j];
      value += next === "n" ? "\n" : next ?? "";
    }
    if (label === name) return value;
    i = j + 1;
    if (series[i] === ",") i++;
  }
  return undefined;
}

/**
 * `families` without the series whose label `name` has a value `keep` rejects (series without
 * that label are kept). For another thread's snapshots: a report made before that thread
 * removed a series must not bring it back.
 */
export function keepSeries(
  families: readonly FamilySnapshot[],
  name: string,
  keep: (value: string) => boolean,
): FamilySnapshot[] {
  const needle = `${name}="`;
  return families.map((f) => {
    const series = f.series.filter(([k]) => {
      if (!k.includes(needle)) return true;
      const v = labelValue(k, name);
      return v === undefined || keep(v);
    });
    return series.length === f.series.length ? f : { ...f, series };
  });
}

function header(out: string[], f: { name: string; help: string; kind: Kind }): void {
  out.push(`# HELP ${f.name} ${f.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`);
  out.push(`# TYPE ${f.name} ${f.kind}`);
}

/** A family's rendered series as `[name{labels}, value]` pairs. */
function seriesOf(f: Family): [string, number][] {
  const lines: string[] = [];
  f.render(lines);
  return lines.map((line) => {
    const at = line.lastIndexOf(" ");
    const v = line.slice(at + 1);
    return [line.slice(0, at), v === "+Inf" ? Infinity : v === "-Inf" ? -Infinity : Number(v)];
  });
}

function fmt(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  return String(n);
}

/** A monotonically increasing count (`…_total`). */
export class Counter implements Family {
  readonly kind = "counter";
  readonly #values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string) {}
  /** Adds `n` (default 1) to the series with `labels`. */
  inc(labels?: Labels, n = 1): void {
    const k = labelKey(labels);
    this.#values.set(k, (this.#values.get(k) ?? 0) + n);
  }
  /** Current value of one series (0 when never incremented). */
  get(labels?: Labels): number {
    return this.#values.get(labelKey(labels)) ?? 0;
  }
  /**
   * Drops the series with exactly `labels` (e.g. of a deleted service): it is no longer
   * rendered, and an `inc` later starts it again from 0. Returns whether it existed.
   */
  remove(labels?: Labels): boolean {
    return this.#values.delete(labelKey(labels));
  }
  render(out: string[]): void {
    for (const [k, v] of this.#values) out.push(`${this.name}${k} ${fmt(v)}`);
  }
}

/** A value that goes up and down; may be backed by a callback read at scrape time. */
export class Gauge implements Family {
  readonly kind = "gauge";
  readonly #values = new Map<string, number>();
  #collect: (() => Iterable<[Labels | undefined, number]>) | undefined;
  constructor(readonly name: string, readonly help: string) {}
  set(labels: Labels | undefined, v: number): void {
    this.#values.set(labelKey(labels), v);
  }
  inc(labels?: Labels, n = 1): void {
    const k = labelKey(labels);
    this.#values.set(k, (this.#values.get(k) ?? 0) + n);
  }
  dec(labels?: Labels, n = 1): void {
    this.inc(labels, -n);
  }
  get(labels?: Labels): number {
    return this.#values.get(labelKey(labels)) ?? 0;
  }
  /**
   * Drops the stored series with exactly `labels` (not those a {@linkcode collect} callback
   * returns: it decides them at every scrape). Returns whether it existed.
   */
  remove(labels?: Labels): boolean {
    return this.#values.delete(labelKey(labels));
  }
  /** Computes the series at scrape time instead of storing them. */
  collect(fn: () => Iterable<[Labels | undefined, number]>): void {
    this.#collect = fn;
  }
  render(out: string[]): void {
    for (const [k, v] of this.#values) out.push(`${this.name}${k} ${fmt(v)}`);
    if (this.#collect) {
      for (const [labels, v] of this.#collect()) {
        out.push(`${this.name}${labelKey(labels)} ${fmt(v)}`);
      }
    }
  }
}

/** A distribution of observations in cumulative buckets (seconds, bytes, …). */
export class Histogram implements Family {
  readonly kind = "histogram";
  readonly #series = new Map<
    string,
    { labels: Labels | undefined; counts: number[]; sum: number; count: number }
  >();
  constructor(readonly name: string, readonly help: string, readonly buckets: readonly number[]) {}
  observe(labels: Labels | undefined, v: number): void {
    const k = labelKey(labels);
    let s = this.#series.get(k);
    if (!s) {
      s = { labels, counts: new Array(this.buckets.length).fill(0), sum: 0, count: 0 };
      this.#series.set(k, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]!) s.counts[i]!++;
    s.sum += v;
    s.count++;
  }
  /** Number of observations in one series. */
  count(labels?: Labels): number {
    return this.#series.get(labelKey(labels))?.count ?? 0;
  }
  /**
   * Drops the series with exactly `labels` (its buckets, sum and count); an `observe` later
   * starts it again from 0. Returns whether it existed.
   */
  remove(labels?: Labels): boolean {
    return this.#series.delete(labelKey(labels));
  }
  render(out: string[]): void {
    for (const s of this.#series.values()) {
      for (let i = 0; i < this.buckets.length; i++) {
        out.push(
          `${this.name}_bucket${labelKey({ ...s.labels, le: fmt(this.buckets[i]!) })} ${
            s.counts[i]
          }`,
        );
      }
      out.push(`${this.name}_bucket${labelKey({ ...s.labels, le: "+Inf" })} ${s.count}`);
      out.push(`${this.name}_sum${labelKey(s.labels)} ${fmt(s.sum)}`);
      out.push(`${this.name}_count${labelKey(s.labels)} ${s.count}`);
    }
  }
}

/** Holds every metric family of one agent and renders them for `/metrics`. */
export class MetricsRegistry {
  readonly #families = new Map<string, Family>();

  #add<T extends Family>(f: T): T {
    const existing = this.#families.get(f.name);
    if (existing) {
      if (existing.kind !== f.kind) {
        throw new TypeError(
          `Cannot register metric "${f.name}": already registered as a ${existing.kind}`,
        );
      }
      return existing as T;
    }
    this.#families.set(f.name, f);
    return f;
  }
  /** Registers (or returns the existing) counter `name`. */
  counter(name: string, help: string): Counter {
    return this.#add(new Counter(name, help));
  }
  /** Registers (or returns the existing) gauge `name`. */
  gauge(name: string, help: string): Gauge {
    return this.#add(new Gauge(name, help));
  }
  /** Registers (or returns the existing) histogram `name`. */
  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    return this.#add(new Histogram(name, help, buckets));
  }
  readonly #sources: (() => Iterable<FamilySnapshot>)[] = [];

  /**
   * Adds the families `fn` returns at every render: series with the same name and labels are
   * summed with ours (counters, histograms and additive gauges from other threads).
   */
  addSource(fn: () => Iterable<FamilySnapshot>): void {
    this.#sources.push(fn);
  }

  /** Every family as plain data (for another thread's {@linkcode addSource}). */
  snapshot(): FamilySnapshot[] {
    return [...this.#families.values()].map((f) => ({
      name: f.name,
      help: f.help,
      kind: f.kind,
      series: seriesOf(f),
    }));
  }

  /** Prometheus text exposition format 0.0.4. */
  render(): string {
    const out: string[] = [];
    const extra = this.#extra();
    for (const f of this.#families.values()) {
      header(out, f);
      const more = extra.get(f.name);
      extra.delete(f.name);
      if (!more) {
        f.render(out);
        continue;
      }
      const merged = new Map(seriesOf(f));
      for (const [k, v] of more.series) merged.set(k, (merged.get(k) ?? 0) + v);
      for (const [k, v] of merged) out.push(`${k} ${fmt(v)}`);
    }
    for (const f of extra.values()) {
      header(out, f);
      for (const [k, v] of f.series) out.push(`${k} ${fmt(v)}`);
    }
    return out.join("\n") + "\n";
  }

  /** The sources' families, same-named ones summed. */
  #extra(): Map<string, { name: string; help: string; kind: Kind; series: Map<string, number> }> {
    const all = new Map<
      string,
      { name: string; help: string; kind: Kind; series: Map<string, number> }
    >();
    for (const source of this.#sources) {
      for (const f of source()) {
        let into = all.get(f.name);
        if (!into) all.set(f.name, into = { ...f, series: new Map() });
        for (const [k, v] of f.series) into.series.set(k, (into.series.get(k) ?? 0) + v);
      }
    }
    return all;
  }
}
