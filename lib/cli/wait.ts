// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * `--wait` of `ctl apply` and `ctl delete`: after the agent acknowledged every object, wait
 * until what it acknowledged is live.
 *
 * An `ok` on the control socket means the change is durable (on disk), not that its VIP
 * answers yet: the device, the proxy's listeners and DNS are updated by the reconcile pass
 * that follows, a few milliseconds later (8–28 ms measured under churn). A script that creates
 * a Service and probes it at once sees `ENETUNREACH`. `--wait` closes that gap the way
 * `kubectl wait` does, by watching the agent's status: the registry version read right after
 * the last reply covers every change this command made (the agent answers a query only after
 * every change sent before it on the connection), and the change is live once
 * `reconciledVersion` reaches it.
 * @module
 */
import { buildMessage, type ControlClient, type UnboundListener } from "../control/mod.ts";
import { monotonicNow } from "../sys/clock.ts";

/** What one status reply says about the version being waited for. */
export type WaitState =
  | { readonly kind: "applied" }
  | { readonly kind: "unbound"; readonly listeners: readonly UnboundListener[] }
  | { readonly kind: "pending"; readonly applied: number }
  | {
    readonly kind: "failed";
    readonly applied: number;
    /** `component: error` of each failed component. */
    readonly errors: readonly string[];
  }
  | { readonly kind: "unsupported" };

/**
 * Where `status` (the content of a `*\/status\/*` reply) stands with `version`: applied once
 * `reconciledVersion` reaches it — unless a listener of one of `services` (`namespace/name`)
 * could not be opened (a `VIP:port` taken by another process, the listener budget used up):
 * then unbound, as that service does not answer; failed when a pass that included it failed
 * (the agent retries it, but a script should not wait the whole timeout for that); unsupported
 * when the agent does not report versions (one from before them).
 */
export function waitState(
  status: unknown,
  version: number,
  services: ReadonlySet<string> = new Set(),
): WaitState {
  const s = status as Record<string, unknown> | null;
  const applied = s?.reconciledVersion;
  if (typeof applied !== "number") return { kind: "unsupported" };
  if (applied >= version) {
    const unbound = Array.isArray(s?.unboundListeners) ? s.unboundListeners : [];
    const ours = unbound.filter((l) => services.has(String(l?.service)));
    return ours.length > 0 ? { kind: "unbound", listeners: ours } : { kind: "applied" };
  }
  const failures = Array.isArray(s?.reconcileFailures) ? s.reconcileFailures : [];
  const errors = failures.flatMap((f) =>
    typeof f?.version === "number" && f.version >= version
      ? [`${String(f.component)}: ${String(f.error)}`]
      : []
  );
  return errors.length > 0 ? { kind: "failed", applied, errors } : { kind: "pending", applied };
}

/** The registry version of a status reply's content (null when it has none). */
export function registryVersionOf(status: unknown): number | null {
  const v = (status as Record<string, unknown> | null)?.registryVersion;
  return typeof v === "number" ? v : null;
}

/** How {@linkcode waitApplied} ended. */
export type WaitOutcome =
  | { readonly kind: "applied"; readonly version: number }
  | {
    readonly kind: "unbound";
    readonly version: number;
    readonly listeners: readonly UnboundListener[];
  }
  | { readonly kind: "failed"; readonly version: number; readonly errors: readonly string[] }
  | { readonly kind: "timeout"; readonly version: number; readonly applied: number }
  | { readonly kind: "unsupported" };

/** Options of {@linkcode waitApplied}. */
export interface WaitOptions {
  /** Longest wait in total, ms; 0 waits forever (as `--timeout 0`). */
  readonly timeoutMs: number;
  /** `namespace/name` of the services whose listeners must be open. @default none */
  readonly services?: ReadonlySet<string>;
  /** @default monotonicNow (lib/sys/clock.ts): `--timeout` is a duration */
  readonly now?: () => number;
  /** @default a setTimeout promise */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** First pause between two status queries, ms; it doubles up to the second. */
const POLL_FIRST_MS = 5;
const POLL_MAX_MS = 200;

/**
 * Queries the agent's status on `client` until every change acknowledged on it before is
 * applied, a pass including them failed, or `timeoutMs` passed.
 * @throws {Error} the agent's error when a status query is refused
 */
export async function waitApplied(
  client: Pick<ControlClient, "send">,
  options: WaitOptions,
): Promise<WaitOutcome> {
  const now = options.now ?? monotonicNow;
  const sleep = options.sleep ??
    ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const status = async () => {
    const reply = await client.send(buildMessage({ operation: "query", resource: "*/status/*" }));
    if (!reply.ok) throw new Error(reply.error);
    return reply.content;
  };
  const first = await status();
  const version = registryVersionOf(first);
  if (version === null) return { kind: "unsupported" };
  const deadline = options.timeoutMs > 0 ? now() + options.timeoutMs : Infinity;
  let current = first;
  let pause = POLL_FIRST_MS;
  for (;;) {
    const state = waitState(current, version, options.services);
    if (state.kind === "unsupported") return state;
    if (state.kind === "applied") return { kind: "applied", version };
    if (state.kind === "unbound") return { kind: "unbound", version, listeners: state.listeners };
    if (state.kind === "failed") return { kind: "failed", version, errors: state.errors };
    const left = deadline - now();
    if (left <= 0) return { kind: "timeout", version, applied: state.applied };
    await sleep(Math.min(pause, left));
    pause = Math.min(POLL_MAX_MS, pause * 2);
    current = await status();
  }
}

/**
 * The line `ctl` prints when a wait did not end applied (null when it did), and its exit status
 * is then 1: the objects are stored, but not (yet) live.
 */
export function waitProblem(outcome: WaitOutcome, timeoutMs: number): string | null {
  switch (outcome.kind) {
    case "applied":
      return null;
    case "unsupported":
      return "edgemesh: --wait: this agent does not report which changes are applied " +
        "(reconciledVersion); the objects are stored";
    case "unbound": {
      const [first] = outcome.listeners;
      const more = outcome.listeners.length > 1 ? ` (+${outcome.listeners.length - 1} more)` : "";
      return `edgemesh: --wait: applied (registry version ${outcome.version}), but ` +
        `${outcome.listeners.length} listener${outcome.listeners.length === 1 ? "" : "s"} of ` +
        `these services could not be opened: ${first!.vip}:${first!.port} (${first!.service}): ` +
        `${first!.error}${more}; see ctl status`;
    }
    case "failed":
      return `edgemesh: --wait: the agent stored the change (registry version ` +
        `${outcome.version}) but could not apply it: ${outcome.errors.join("; ")} ` +
        `(it retries; see ctl status)`;
    case "timeout":
      return `edgemesh: --wait: registry version ${outcome.version} was not applied within ` +
        `${timeoutMs / 1000} s (applied up to ${outcome.applied}; see --timeout and ctl status)`;
  }
}
