// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Markdown rendering of a run: one table per group with median (min–max) per metric and the
 * paired ratio to the group's reference system, then the issue 7 targets with ✓/✗ marks.
 * Pure: `Results` in, Markdown text out.
 * @module
 */
import type { GroupSpec, MetricSpec, Results } from "./lib/results.ts";
import type { TargetOutcome } from "./lib/targets.ts";
import { pairedRatio, summarize } from "./lib/stats.ts";

/** Formats `value` with `digits` decimals. */
export function fmt(value: number, digits: number): string {
  return value.toFixed(digits);
}

/** One table cell: `median (min–max)`, with `[k/n]` when some repetitions failed. */
export function cell(samples: readonly (number | null)[], metric: MetricSpec): string {
  const present = samples.filter((v): v is number => v !== null);
  if (present.length === 0) return samples.length === 0 ? "–" : "failed";
  const s = summarize(present);
  const range = present.length > 1
    ? ` (${fmt(s.min, metric.digits)}–${fmt(s.max, metric.digits)})`
    : "";
  const partial = present.length < samples.length ? ` [${present.length}/${samples.length}]` : "";
  return `${fmt(s.median, metric.digits)}${range}${partial}`;
}

/** Renders one group as a Markdown table. */
export function renderGroup(results: Results, group: GroupSpec): string {
  const ref = group.reference;
  const header = ["system"];
  const align = ["---"];
  for (const m of group.metrics) {
    header.push(m.label);
    align.push("---:");
    if (ref !== undefined) {
      header.push(`×${ref}`);
      align.push("---:");
    }
  }
  const lines = [`### ${group.scenario}. ${group.title}`, "", row(header), row(align)];
  for (const system of group.systems) {
    const cells = [system];
    for (const m of group.metrics) {
      const own = results.series(group.id, system, m.key);
      cells.push(cell(own, m));
      if (ref !== undefined) {
        const ratio = pairedRatio(own, results.series(group.id, ref, m.key));
        cells.push(ratio === null ? "–" : fmt(ratio, 2));
      }
    }
    lines.push(row(cells));
  }
  return lines.join("\n");
}

/** Renders the target outcomes as a Markdown table. */
export function renderTargets(outcomes: readonly TargetOutcome[]): string {
  const lines = [
    "### Targets (issue 7)",
    "",
    row(["target", "measured", ""]),
    row(["---", "---:", ":-:"]),
  ];
  for (const { target, value, pass } of outcomes) {
    const unit = target.kind === "absolute" ? ` ${target.unit}` : "";
    const label = `${target.label} ${target.op === ">=" ? "≥" : "≤"} ${target.bound}${unit}`;
    const digits = target.kind === "absolute" ? 1 : 2;
    const shown = value === null ? "not measured" : `${fmt(value, digits)}${unit}`;
    lines.push(row([label, shown, pass === null ? "–" : pass ? "✓" : "✗"]));
  }
  return lines.join("\n");
}

/** Renders the whole report: every group, the targets, errors and notes. */
export function renderReport(
  results: Results,
  outcomes: readonly TargetOutcome[],
  heading: string,
): string {
  const parts = [`## ${heading}`];
  // Scenario order; groups of one scenario keep the order they were declared in.
  const groups = [...results.groups].sort((a, b) => a.scenario - b.scenario);
  for (const g of groups) parts.push(renderGroup(results, g));
  parts.push(renderTargets(outcomes));
  if (results.errors.length > 0) {
    parts.push(
      [
        "### Failed measurements",
        "",
        ...results.errors.map((e) => `- ${e.group} / ${e.system} / rep ${e.rep + 1}: ${e.message}`),
      ].join("\n"),
    );
  }
  if (results.notes.length > 0) {
    parts.push(["### Notes", "", ...results.notes.map((n) => `- ${n}`)].join("\n"));
  }
  return parts.join("\n\n") + "\n";
}

function row(cells: readonly string[]): string {
  return `| ${cells.map((c) => c.replaceAll("|", "\\|")).join(" | ")} |`;
}
