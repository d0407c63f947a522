// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The data model of one benchmark run: groups of measurements (one table each), their
 * per-repetition samples per system, and errors. Pure; rendering is in `table.ts`.
 * @module
 */

/** One measured quantity of a group, e.g. requests per second. */
export interface MetricSpec {
  /** Key in the samples map, e.g. `rps`. */
  readonly key: string;
  /** Column header, e.g. `req/s`. */
  readonly label: string;
  /** Digits after the decimal point when printed. */
  readonly digits: number;
  /** Whether bigger is better (throughput) or worse (latency, memory). */
  readonly higherIsBetter: boolean;
}

/** Median latency column (`p50` samples in milliseconds), shared by the DNS and proxy scenarios. */
export const P50_MS: MetricSpec = {
  key: "p50",
  label: "p50 ms",
  digits: 3,
  higherIsBetter: false,
};

/** Tail latency column (`p99` samples in milliseconds), shared by the DNS and proxy scenarios. */
export const P99_MS: MetricSpec = {
  key: "p99",
  label: "p99 ms",
  digits: 3,
  higherIsBetter: false,
};

/** A table: one scenario case measured on several systems. */
export interface GroupSpec {
  /** Stable identifier used by targets and the JSON file, e.g. `tcp-1`. */
  readonly id: string;
  /** Scenario number from issue 7. */
  readonly scenario: number;
  readonly title: string;
  /** The system every other one is compared to (`direct`, `dnsmasq`), if any. */
  readonly reference?: string;
  readonly metrics: readonly MetricSpec[];
  /** Systems in display order. */
  readonly systems: readonly string[];
}

/** A failed measurement, kept so the table says "failed" instead of silently dropping it. */
export interface RunError {
  readonly group: string;
  readonly system: string;
  readonly rep: number;
  readonly message: string;
}

/** All samples of a group: system → metric key → one value per repetition (`null` = failed). */
export type GroupSamples = Record<string, Record<string, (number | null)[]>>;

/** The results of a run, filled in as measurements finish. */
export class Results {
  readonly groups: GroupSpec[] = [];
  readonly samples: Record<string, GroupSamples> = {};
  readonly errors: RunError[] = [];
  /** Free-form observations (agent crashes, slow paths), printed after the tables. */
  readonly notes: string[] = [];

  /** Declares a group; idempotent for the same id. */
  declare(spec: GroupSpec): void {
    if (this.groups.some((g) => g.id === spec.id)) return;
    this.groups.push(spec);
    this.samples[spec.id] = {};
  }

  /**
   * Records the values one system measured in repetition `rep` (0-based).
   * @throws {RangeError} for an undeclared group or an unknown metric key
   */
  record(
    group: string,
    system: string,
    rep: number,
    values: Readonly<Record<string, number>>,
  ): void {
    const spec = this.#spec(group);
    for (const key of Object.keys(values)) {
      if (!spec.metrics.some((m) => m.key === key)) {
        throw new RangeError(`Cannot record "${group}": unknown metric "${key}"`);
      }
    }
    const bySystem = (this.samples[group] as GroupSamples)[system] ??= {};
    for (const m of spec.metrics) {
      const v = values[m.key];
      if (v === undefined) continue;
      const series = bySystem[m.key] ??= [];
      while (series.length <= rep) series.push(null);
      if (Number.isFinite(v)) series[rep] = v;
    }
  }

  /** Records that a system failed in repetition `rep`; its samples stay `null`. */
  fail(group: string, system: string, rep: number, message: string): void {
    this.#spec(group);
    this.errors.push({ group, system, rep, message });
  }

  /** The samples of one metric of one system (empty when never measured). */
  series(group: string, system: string, metric: string): (number | null)[] {
    return this.samples[group]?.[system]?.[metric] ?? [];
  }

  #spec(group: string): GroupSpec {
    const spec = this.groups.find((g) => g.id === group);
    if (!spec) throw new RangeError(`Cannot record "${group}": group is not declared`);
    return spec;
  }
}
