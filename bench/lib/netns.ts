// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Micro-benchmarks that need their own network stack re-run themselves inside a fresh network
 * namespace, so their loopback listeners and devices never meet the host's.
 * @module
 */
import { join } from "node:path";
import { ROOT } from "./agent.ts";
import { mustCmd, runCmd } from "./proc.ts";

/**
 * Creates `em-<purpose>-<random6>` with loopback up, runs
 * `deno run -A DENO_FLAGS… --config deno.json SCRIPT ARGS(ns)…` inside it (stdout and stderr
 * inherited), and always removes the namespace after killing whatever is left in it.
 * Resolves with the child's status.
 */
export async function rerunInNetns(
  purpose: string,
  script: string,
  args: (ns: string) => readonly string[],
  denoFlags: readonly string[] = [],
): Promise<Deno.CommandStatus> {
  const ns = `em-${purpose}-${crypto.randomUUID().slice(0, 6)}`;
  await mustCmd(["ip", "netns", "add", ns]);
  try {
    await mustCmd(["ip", "-n", ns, "link", "set", "lo", "up"]);
    const child = new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        ns,
        Deno.execPath(),
        "run",
        "-A",
        ...denoFlags,
        "--config",
        join(ROOT, "deno.json"),
        script,
        ...args(ns),
      ],
      stdin: "null",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    return await child.status;
  } finally {
    const pids = (await runCmd(["ip", "netns", "pids", ns])).stdout;
    for (const pid of pids.split(/\s+/).filter(Boolean)) {
      try {
        Deno.kill(Number(pid), "SIGKILL");
      } catch { /* gone */ }
    }
    await runCmd(["ip", "netns", "del", ns]);
  }
}
