// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The performance targets of issue 7 and their evaluation against a run's results.
 *
 * Relative targets compare edgemesh with a baseline measured in the same run (paired per
 * repetition, see `pairedRatio`), because absolute numbers on shared 2-core machines drift.
 * @module
 */
import type { Results } from "./results.ts";
import { median, pairedRatio } from "./stats.ts";

/** Comparison operator of a target. */
export type TargetOp = ">=" | "<=";

/** A target on the paired ratio `system / versus` of one metric. */
export interface RelativeTarget {
  readonly kind: "relative";
  readonly label: string;
  readonly group: string;
  readonly metric: string;
  readonly system: string;
  readonly versus: string;
  readonly op: TargetOp;
  readonly bound: number;
}

/** A target on the median of one metric. */
export interface AbsoluteTarget {
  readonly kind: "absolute";
  readonly label: string;
  readonly group: string;
  readonly metric: string;
  readonly system: string;
  readonly op: TargetOp;
  readonly bound: number;
  readonly unit: string;
}

/** A target from issue 7. */
export type Target = RelativeTarget | AbsoluteTarget;

/** The evaluation of one target; `value`/`pass` are `null` when it was not measured. */
export interface TargetOutcome {
  readonly target: Target;
  readonly value: number | null;
  readonly pass: boolean | null;
}

/** Targets from issue 7, "Targets (ratios from the same run, on these 2-core machines)". */
export const ISSUE7_TARGETS: readonly Target[] = [
  rel("edgemesh/HAProxy throughput, 1 stream", "tcp-1", "gbps", "haproxy", ">=", 1.0),
  rel("edgemesh/HAProxy throughput, 8 streams", "tcp-8", "gbps", "haproxy", ">=", 1.0),
  rel("edgemesh/HAProxy keep-alive req/s", "http-keepalive", "rps", "haproxy", ">=", 1.0),
  rel("edgemesh/HAProxy short-connection req/s", "http-close", "rps", "haproxy", ">=", 0.9),
  rel("edgemesh/HAProxy short-connection p99", "http-close", "p99", "haproxy", "<=", 1.2),
  rel("edgemesh/dnsmasq service-name queries/s", "dns-svc", "qps", "dnsmasq", ">=", 1.1),
  rel("edgemesh/dnsmasq service-name p99", "dns-svc", "p99", "dnsmasq", "<=", 1.0),
  abs("RSS during the DNS run", "memory", "rssPeakDns", "<=", 64, "MiB"),
  abs("1000 services ready", "control", "apply1000", "<=", 1000, "ms"),
  abs("Idle RSS with 1000 services", "memory", "rssIdle1000", "<=", 50, "MiB"),
  abs("Start to ready", "memory", "startReady", "<=", 300, "ms"),
];

function rel(
  label: string,
  group: string,
  metric: string,
  versus: string,
  op: TargetOp,
  bound: number,
): RelativeTarget {
  return { kind: "relative", label, group, metric, system: "edgemesh", versus, op, bound };
}

function abs(
  label: string,
  group: string,
  metric: string,
  op: TargetOp,
  bound: number,
  unit: string,
): AbsoluteTarget {
  return { kind: "absolute", label, group, metric, system: "edgemesh", op, bound, unit };
}

/** Evaluates every target; unmeasured ones get `null` value and pass. */
export function evaluateTargets(results: Results, targets: readonly Target[]): TargetOutcome[] {
  return targets.map((target) => {
    const own = results.series(target.group, target.system, target.metric);
    let value: number | null;
    if (target.kind === "relative") {
      value = pairedRatio(own, results.series(target.group, target.versus, target.metric));
    } else {
      const present = own.filter((v): v is number => v !== null);
      value = present.length === 0 ? null : median(present);
    }
    const pass = value === null
      ? null
      : target.op === ">="
      ? value >= target.bound
      : value <= target.bound;
    return { target, value, pass };
  });
}
