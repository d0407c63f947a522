// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Starting `bench/soak/node.ts` inside a node's namespace and talking to it over its stdin and
 * stdout (`ready`, `stats <json>`, `stop` → `stopped <json>`).
 * @module
 */
import { DENO_JSON } from "../../tests/_helpers/agent.ts";
import type { TempNetns } from "../../tests/_helpers/netns.ts";
import type { NodeSpec } from "./node.ts";

const NODE_TS = new URL("./node.ts", import.meta.url).pathname;

/** A running helper. */
export interface Helper {
  /** The last `stats` counters it printed. */
  stats(): Record<string, number>;
  /** Ends the load (long-lived connections closed) and resolves with the final counters. */
  stopLoad(): Promise<Record<string, number>>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
}

/** Spawns the helper in `ns` and resolves once it printed `ready`. */
export async function startHelper(ns: TempNetns, spec: NodeSpec): Promise<Helper> {
  const child = ns.spawn(
    [Deno.execPath(), "run", "-A", "--config", DENO_JSON, NODE_TS, JSON.stringify(spec)],
    { stdin: "piped", stdout: "piped", stderr: "inherit" },
  );
  let last: Record<string, number> = {};
  const ready = Promise.withResolvers<void>();
  const stopped = Promise.withResolvers<Record<string, number>>();
  (async () => {
    let partial = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      partial += chunk;
      const lines = partial.split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        if (line === "ready") ready.resolve();
        else if (line.startsWith("stats ")) last = JSON.parse(line.slice(6));
        else if (line.startsWith("stopped ")) stopped.resolve(JSON.parse(line.slice(8)));
      }
    }
    ready.reject(new Error(`Soak helper in ${ns.name} exited before "ready"`));
    stopped.reject(new Error(`Soak helper in ${ns.name} exited before "stopped"`));
  })().catch(() => {});
  ready.promise.catch(() => {});
  stopped.promise.catch(() => {});
  const writer = child.stdin.getWriter();
  const helper: Helper = {
    stats: () => last,
    async stopLoad() {
      await writer.write(new TextEncoder().encode("stop\n"));
      return await stopped.promise;
    },
    async kill() {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await writer.close().catch(() => {});
      await child.status;
    },
  };
  try {
    await ready.promise;
  } catch (err) {
    await helper.kill();
    throw err;
  }
  return helper;
}
