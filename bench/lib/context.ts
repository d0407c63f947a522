// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * What every scenario gets: run settings, the results being filled in and a progress log.
 * @module
 */
import type { Results } from "./results.ts";

/** Settings and shared state of one benchmark run. */
export interface BenchContext {
  /** Path of the deno binary (agent and CLI run with it). */
  readonly deno: string;
  /** Scratch directory of this run (configs, logs, agent state). */
  readonly dir: string;
  /** Unique id of this run; namespaces created are named `emb-<runId>-<role>`. */
  readonly runId: string;
  /** Repetitions per measurement (≥ 3 unless overridden for debugging). */
  readonly reps: number;
  /** Seconds per load-generator run (5, or 2 with `BENCH_QUICK=1`). */
  readonly seconds: number;
  readonly quick: boolean;
  readonly results: Results;
  /** Progress line on stderr. */
  log(message: string): void;
}

/**
 * Runs `fn`, recording its values, or a failure for `group/system/rep` instead of throwing.
 * Resolves with whether it succeeded.
 */
export async function attempt(
  ctx: BenchContext,
  group: string,
  system: string,
  rep: number,
  fn: () => Promise<Readonly<Record<string, number>>>,
): Promise<boolean> {
  try {
    const values = await fn();
    ctx.results.record(group, system, rep, values);
    ctx.log(
      `  ${group} ${system} rep ${rep + 1}: ${
        Object.entries(values).map(([k, v]) => `${k}=${v.toFixed(3)}`).join(" ")
      }`,
    );
    return true;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    ctx.results.fail(group, system, rep, message.split("\n")[0] ?? message);
    ctx.log(`  ${group} ${system} rep ${rep + 1}: FAILED ${message}`);
    return false;
  }
}
