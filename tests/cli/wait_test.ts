// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * `--wait` of `ctl apply` and `ctl delete` (lib/cli/wait.ts): what a status says about the
 * version waited for, the polling loop against a scripted client with a fake clock, and the
 * commands against fake agents whose status lags, fails or predates versions.
 * @module
 */
import assert from "node:assert/strict";
import type { Reply } from "../../lib/control/mod.ts";
import { waitApplied, type WaitOutcome, waitProblem, waitState } from "../../lib/cli/wait.ts";
import { edgemesh } from "../_helpers/cli.ts";
import { EMULATED } from "../_helpers/emulation.ts";
import { okReplyTo, type Respond, startFakeAgent } from "../_helpers/fake_control.ts";

const failure = (version: number) => ({ component: "netdev", version, error: "ip: exit 2" });
const UNBOUND = { service: "default/web", vip: "9.251.0.2", port: 80, error: "Address in use" };

Deno.test("waitState() reads a status against the version waited for", async (t) => {
  const rows: { name: string; status: unknown; version: number; want: unknown }[] = [
    { name: "applied exactly", status: { reconciledVersion: 7 }, version: 7, want: "applied" },
    { name: "applied beyond", status: { reconciledVersion: 9 }, version: 7, want: "applied" },
    {
      name: "behind, no failure",
      status: { reconciledVersion: 6, reconcileFailures: [] },
      version: 7,
      want: { kind: "pending", applied: 6 },
    },
    {
      name: "behind, an older pass failed (not ours)",
      status: { reconciledVersion: 5, reconcileFailures: [failure(6)] },
      version: 7,
      want: { kind: "pending", applied: 5 },
    },
    {
      name: "behind, the pass with our change failed",
      status: { reconciledVersion: 6, reconcileFailures: [failure(7)] },
      version: 7,
      want: { kind: "failed", applied: 6, errors: ["netdev: ip: exit 2"] },
    },
    {
      name: "before the first reconcile",
      status: { reconciledVersion: -1 },
      version: 0,
      want: { kind: "pending", applied: -1 },
    },
    {
      name: "applied, but a listener of a service waited for is not open",
      status: { reconciledVersion: 7, unboundListeners: [UNBOUND, { ...UNBOUND, service: "b/c" }] },
      version: 7,
      want: { kind: "unbound", listeners: [UNBOUND] },
    },
    {
      name: "applied; unbound listeners of other services do not count",
      status: { reconciledVersion: 7, unboundListeners: [{ ...UNBOUND, service: "b/c" }] },
      version: 7,
      want: "applied",
    },
    { name: "an agent without versions", status: { node: "n" }, version: 3, want: "unsupported" },
    { name: "no content", status: null, version: 3, want: "unsupported" },
  ];
  for (const row of rows) {
    await t.step(row.name, () => {
      const got = waitState(row.status, row.version, new Set(["default/web"]));
      assert.deepEqual(got, typeof row.want === "string" ? { kind: row.want } : row.want);
    });
  }
});

/** A client answering each status query with the next of `statuses` (the last repeats). */
function scripted(statuses: readonly unknown[]) {
  const sent: unknown[] = [];
  return {
    sent,
    send(message: unknown): Promise<Reply> {
      sent.push(message);
      const content = statuses[Math.min(sent.length - 1, statuses.length - 1)];
      return Promise.resolve({ msg_id: null, ok: true, content });
    },
  };
}

Deno.test("waitApplied() polls until the version read first is applied", async (t) => {
  const v = (registryVersion: number, reconciledVersion: number, failures: unknown[] = []) => ({
    registryVersion,
    reconciledVersion,
    reconcileFailures: failures,
  });
  const rows: {
    name: string;
    statuses: unknown[];
    timeoutMs: number;
    want: WaitOutcome;
    queries: number;
  }[] = [
    {
      name: "already applied: one query",
      statuses: [v(4, 4)],
      timeoutMs: 1000,
      want: { kind: "applied", version: 4 },
      queries: 1,
    },
    {
      name: "catches up on the third look; a later change does not move the target",
      statuses: [v(4, 2), v(5, 3), v(6, 4)],
      timeoutMs: 1000,
      want: { kind: "applied", version: 4 },
      queries: 3,
    },
    {
      name: "the pass with the change failed",
      statuses: [v(4, 3), v(4, 3, [failure(4)])],
      timeoutMs: 1000,
      want: { kind: "failed", version: 4, errors: ["netdev: ip: exit 2"] },
      queries: 2,
    },
    {
      name: "never applied: ends at the timeout",
      statuses: [v(4, 3)],
      timeoutMs: 100,
      want: { kind: "timeout", version: 4, applied: 3 },
      queries: 6, // pauses of 5, 10, 20, 40 ms, then the 25 ms left
    },
    {
      name: "an agent without versions",
      statuses: [{ node: "n" }],
      timeoutMs: 1000,
      want: { kind: "unsupported" },
      queries: 1,
    },
  ];
  for (const row of rows) {
    await t.step(row.name, async () => {
      const client = scripted(row.statuses);
      let clock = 0;
      const pauses: number[] = [];
      const got = await waitApplied(client, {
        timeoutMs: row.timeoutMs,
        now: () => clock,
        sleep: (ms) => {
          pauses.push(ms);
          clock += ms;
          return Promise.resolve();
        },
      });
      assert.deepEqual(got, row.want);
      assert.equal(client.sent.length, row.queries, `pauses ${pauses}`);
      for (const m of client.sent) {
        const { operation, resource } = (m as { route: Record<string, unknown> }).route;
        assert.deepEqual({ operation, resource }, { operation: "query", resource: "*/status/*" });
      }
    });
  }
});

Deno.test("waitApplied() with --timeout 0 waits for as long as it takes", async () => {
  const statuses = Array.from({ length: 30 }, (_, i) => ({
    registryVersion: 2,
    reconciledVersion: i < 29 ? 1 : 2,
  }));
  let clock = 0;
  const client = scripted(statuses);
  const got = await waitApplied(client, {
    timeoutMs: 0,
    now: () => clock,
    sleep: (ms) => Promise.resolve(void (clock += ms)),
  });
  assert.deepEqual(got, { kind: "applied", version: 2 });
  assert.equal(client.sent.length, 30);
  // One pause between two of the 30 queries, doubling from 5 ms up to 200 ms.
  assert.equal(clock, 5 + 10 + 20 + 40 + 80 + 160 + 23 * 200);
});

Deno.test("waitApplied() passes on an agent's refusal of the status query", async () => {
  const client = {
    send: () => Promise.resolve({ msg_id: null, ok: false, error: "Cannot query: busy" }),
  };
  await assert.rejects(() => waitApplied(client, { timeoutMs: 1000 }), /Cannot query: busy/);
});

Deno.test("waitProblem() says why a wait did not end applied", async (t) => {
  const rows: { outcome: WaitOutcome; want: RegExp | null }[] = [
    { outcome: { kind: "applied", version: 3 }, want: null },
    {
      outcome: { kind: "unbound", version: 3, listeners: [UNBOUND, UNBOUND] },
      want:
        /applied \(registry version 3\), but 2 listeners of these services could not be opened: 9\.251\.0\.2:80 \(default\/web\): Address in use \(\+1 more\)/,
    },
    { outcome: { kind: "unsupported" }, want: /does not report which changes are applied/ },
    {
      outcome: { kind: "failed", version: 3, errors: ["netdev: ip: exit 2"] },
      want: /version 3\) but could not apply it: netdev: ip: exit 2 \(it retries/,
    },
    {
      outcome: { kind: "timeout", version: 3, applied: 2 },
      want: /version 3 was not applied within 1.5 s \(applied up to 2; see --timeout/,
    },
  ];
  for (const row of rows) {
    await t.step(row.outcome.kind, () => {
      const got = waitProblem(row.outcome, 1500);
      if (row.want === null) assert.equal(got, null);
      else assert.match(got ?? "", row.want);
    });
  }
});

/**
 * A fake agent: changes are acknowledged (delete with `found: true`, both with `change` on top),
 * status queries get the next of `statuses` (the last repeats).
 */
function agentWith(
  statuses: readonly unknown[],
  change: Record<string, unknown> = {},
): { respond: Respond; queries: () => number } {
  let n = 0;
  return {
    respond: (line) => {
      const op = JSON.parse(line)?.route?.operation;
      if (op !== "query") {
        return JSON.stringify({
          ...JSON.parse(okReplyTo(line)),
          ...(op === "delete" ? { found: true } : {}),
          ...change,
        });
      }
      return okReplyTo(line, statuses[Math.min(n++, statuses.length - 1)]);
    },
    queries: () => n,
  };
}

const SERVICE = JSON.stringify({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name: "web", namespace: "default" },
  spec: { ports: [{ port: 80, targetPort: 8080 }] },
});

Deno.test("ctl apply --wait and ctl delete --wait against a fake agent", async (t) => {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "cwt-" });
  const manifest = `${dir}/web.json`;
  await Deno.writeTextFile(manifest, SERVICE);
  const lag = [
    { registryVersion: 3, reconciledVersion: 2 },
    { registryVersion: 3, reconciledVersion: 3 },
  ];
  const rows: {
    name: string;
    args: string[];
    statuses: unknown[];
    code: number;
    stdout: string;
    stderr: RegExp;
    queries: number;
    /** Added to every change's reply. */
    reply?: Record<string, unknown>;
  }[] = [
    {
      name: "apply: returns once the agent caught up",
      args: ["apply", "-f", manifest, "--wait"],
      statuses: lag,
      code: 0,
      stdout: "service/default/web configured\n",
      stderr: /^$/,
      queries: 2,
    },
    {
      name: "apply without --wait sends no status query",
      args: ["apply", "-f", manifest],
      statuses: lag,
      code: 0,
      stdout: "service/default/web configured\n",
      stderr: /^$/,
      queries: 0,
    },
    {
      name: "apply: the agent could not apply it",
      args: ["apply", "-f", manifest, "--wait"],
      statuses: [{ registryVersion: 3, reconciledVersion: 2, reconcileFailures: [failure(3)] }],
      code: 1,
      stdout: "service/default/web configured\n",
      stderr: /could not apply it: netdev: ip: exit 2/,
      queries: 1,
    },
    {
      // --timeout bounds the apply too: long enough for ctl to start, connect and get its
      // reply (under emulation 30 ms was not, once, and 3 s was not, once, on a loaded
      // machine: 'No reply from the agent … within 3 s'), then the wait runs out.
      name: "apply: not applied within --timeout",
      args: ["apply", "-f", manifest, "--wait", "--timeout", EMULATED ? "10s" : "300ms"],
      statuses: [{ registryVersion: 3, reconciledVersion: 2 }],
      code: 1,
      stdout: "service/default/web configured\n",
      stderr: /version 3 was not applied within (0\.3|10) s \(applied up to 2/,
      queries: 4,
    },
    {
      name: "apply: stored and reconciled, but its listener could not be opened",
      args: ["apply", "-f", manifest, "--wait"],
      statuses: [{ registryVersion: 3, reconciledVersion: 3, unboundListeners: [UNBOUND] }],
      code: 1,
      stdout: "service/default/web configured\n",
      stderr: /1 listener of these services could not be opened: 9\.251\.0\.2:80/,
      queries: 1,
    },
    {
      name: "apply: an agent from before versions",
      args: ["apply", "-f", manifest, "--wait"],
      statuses: [{ node: "n", counts: {} }],
      code: 1,
      stdout: "service/default/web configured\n",
      stderr: /does not report which changes are applied/,
      queries: 1,
    },
    {
      // Nothing was written for it, but what is held may still be reconciling (an earlier
      // change): --wait waits for the version read after the reply, as for any change.
      name: "apply of an unchanged object: printed unchanged, waits as usual",
      args: ["apply", "-f", manifest, "--wait"],
      statuses: lag,
      reply: { unchanged: true },
      code: 0,
      stdout: "service/default/web unchanged\n",
      stderr: /^$/,
      queries: 2,
    },
    {
      name: "delete of an absent object, --ignore-not-found: waits as usual",
      args: ["delete", "service", "default/web", "--ignore-not-found", "--wait"],
      statuses: [{ registryVersion: 3, reconciledVersion: 3 }],
      reply: { found: false, unchanged: true },
      code: 0,
      stdout: "",
      stderr: /^$/,
      queries: 1,
    },
    {
      name: "delete: returns once the deletion is live",
      args: ["delete", "service", "default/web", "--wait"],
      statuses: lag,
      code: 0,
      stdout: "service/default/web deleted\n",
      stderr: /^$/,
      queries: 2,
    },
  ];
  try {
    for (const row of rows) {
      await t.step(row.name, async () => {
        const agent = agentWith(row.statuses, row.reply);
        const fake = startFakeAgent(`${dir}/fake.sock`, agent.respond);
        try {
          const r = await edgemesh(["ctl", "--socket", fake.path, ...row.args]);
          assert.equal(r.code, row.code, r.stderr);
          assert.equal(r.stdout, row.stdout);
          assert.match(r.stderr, row.stderr);
          if (row.name.includes("timeout")) assert.ok(agent.queries() >= 2, `${agent.queries()}`);
          else assert.equal(agent.queries(), row.queries);
        } finally {
          await fake.close();
        }
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
