// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * An interval timer a test fires by hand (`tick()`), for the agent's periodic tasks that take an
 * `IntervalTimers` (heap trim, device watch, systemd notify, listener retry).
 * @module
 */
import assert from "node:assert/strict";
import type { IntervalTimers } from "../../lib/agent/heap_trim.ts";

/** One interval at a time: `fn` and `ms` while it runs, `cleared` once it was cleared. */
export class FakeIntervals implements IntervalTimers {
  fn: (() => void) | null = null;
  ms = 0;
  cleared = false;
  readonly #id = Symbol("interval");

  setInterval(fn: () => void, ms: number): unknown {
    assert.equal(this.fn, null, "one interval at a time");
    this.fn = fn;
    this.ms = ms;
    this.cleared = false;
    return this.#id;
  }

  clearInterval(id: unknown): void {
    assert.equal(id, this.#id, "the interval this timer started");
    this.fn = null;
    this.cleared = true;
  }

  /** Runs the interval's function once, as its period passing would. */
  tick(): void {
    assert.ok(this.fn && !this.cleared, "tick() on a live interval");
    this.fn();
  }
}
