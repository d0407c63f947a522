// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Network-namespace fixtures for tests that need real `ip`, real devices and real sockets.
 *
 * Every namespace gets a unique name and is removed by `[Symbol.asyncDispose]`, so
 * `await using ns = await createNetns("proxy")` cannot leak one. Tests must send traffic only
 * to addresses inside namespaces they created.
 * @module
 */
import { denoExec, mustRun } from "../../lib/netdev/exec.ts";

/** Whether namespace tests can run here (root and a working `ip netns`). */
export const NETNS_AVAILABLE: boolean = (() => {
  try {
    if (Deno.build.os !== "linux" || Deno.uid() !== 0) return false;
    return new Deno.Command("ip", { args: ["netns", "list"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

/** A network namespace owned by one test. */
export interface TempNetns extends AsyncDisposable {
  readonly name: string;
  /** Runs argv inside the namespace; throws `CommandError` on failure; returns stdout. */
  run(argv: readonly string[], stdin?: string): Promise<string>;
  /** Spawns a long-running process inside the namespace (caller kills/awaits it). */
  spawn(argv: readonly string[], options?: Omit<Deno.CommandOptions, "args">): Deno.ChildProcess;
}

function shortId(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 6);
}

/**
 * Creates `<prefix>-<purpose>-<random>` with loopback up (`prefix` lets a suite's namespaces be
 * told apart from every other's, e.g. `sdn` for the sd_notify tests).
 */
export async function createNetns(purpose: string, prefix = "em"): Promise<TempNetns> {
  const name = `${prefix}-${purpose.slice(0, 6)}-${shortId()}`;
  await mustRun(denoExec, ["ip", "netns", "add", name]);
  await mustRun(denoExec, ["ip", "-n", name, "link", "set", "lo", "up"]);
  return {
    name,
    run: (argv, stdin) =>
      mustRun(
        denoExec,
        ["ip", "netns", "exec", name, ...argv],
        stdin === undefined ? {} : { stdin },
      ),
    spawn: (argv, options = {}) =>
      new Deno.Command("ip", { ...options, args: ["netns", "exec", name, ...argv] }).spawn(),
    async [Symbol.asyncDispose]() {
      // Processes still inside would keep sockets; kill them before deleting the namespace.
      await denoExec.run(["ip", "netns", "pids", name]).then(async (r) => {
        for (const pid of r.stdout.split(/\s+/).filter(Boolean)) {
          await denoExec.run(["kill", "-9", pid]);
        }
      });
      await denoExec.run(["ip", "netns", "del", name]);
    },
  };
}

/** Several namespaces joined by a bridge, with addresses `10.<net>.0.<i+1>/24` on `eth0`. */
export interface TempLan extends AsyncDisposable {
  readonly nodes: readonly (TempNetns & { readonly ip: string })[];
}

/**
 * Creates `count` namespaces ("nodes") on one bridge living in its own namespace (never in the
 * host's), so tests can exercise traffic between nodes. `net` picks the 10.<net>.0.0/24 prefix;
 * the addresses exist only inside these namespaces. `prefix` starts every namespace's name
 * (`createNetns`).
 */
export async function createLan(
  purpose: string,
  count: number,
  net = 77,
  prefix = "em",
): Promise<TempLan> {
  const sw = await createNetns(`${purpose.slice(0, 3)}sw`, prefix);
  const nodes: (TempNetns & { ip: string })[] = [];
  try {
    await sw.run(["ip", "link", "add", "br0", "type", "bridge"]);
    await sw.run(["ip", "link", "set", "br0", "up"]);
    for (let i = 0; i < count; i++) {
      const ns = await createNetns(`${purpose.slice(0, 3)}n${i}`, prefix);
      const ip = `10.${net}.0.${i + 1}`;
      nodes.push(Object.assign(ns, { ip }));
      const peer = `v${shortId()}`;
      await mustRun(denoExec, [
        "ip",
        "-n",
        ns.name,
        "link",
        "add",
        "eth0",
        "type",
        "veth",
        "peer",
        "name",
        peer,
        "netns",
        sw.name,
      ]);
      await sw.run(["ip", "link", "set", peer, "master", "br0", "up"]);
      await ns.run(["ip", "addr", "add", `${ip}/24`, "dev", "eth0"]);
      await ns.run(["ip", "link", "set", "eth0", "up"]);
    }
  } catch (err) {
    for (const n of nodes) await n[Symbol.asyncDispose]();
    await sw[Symbol.asyncDispose]();
    throw err;
  }
  return {
    nodes,
    async [Symbol.asyncDispose]() {
      for (const n of nodes) await n[Symbol.asyncDispose]();
      await sw[Symbol.asyncDispose]();
    },
  };
}

/**
 * Spawns `argv` in `ns` (stderr inherited) and resolves once its first stdout line starts with
 * `ready`; stdout keeps being drained so the child never blocks on a full pipe. The caller
 * kills and awaits the child.
 * @throws {Error} `<what> in <ns> did not start: <first output>` after killing the child
 */
export async function spawnReady(
  ns: TempNetns,
  argv: readonly string[],
  what: string,
): Promise<Deno.ChildProcess> {
  const child = ns.spawn(argv, { stdout: "piped", stderr: "inherit", stdin: "null" });
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("\n")) {
    const r = await reader.read();
    if (r.done) break;
    seen += r.value;
  }
  (async () => {
    while (!(await reader.read()).done) { /* discard */ }
  })().catch(() => {});
  if (!seen.startsWith("ready")) {
    try {
      child.kill("SIGKILL");
    } catch { /* already exited */ }
    await child.status;
    throw new Error(`${what} in ${ns.name} did not start: ${JSON.stringify(seen)}`);
  }
  return child;
}
