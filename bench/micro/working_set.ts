// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * How much of the agent's resident memory it actually uses: the pages it touched during a
 * window, per kind of mapping, against what is resident.
 *
 * RSS counts every page of the deno binary that was ever touched and not yet reclaimed, including
 * start-up code that never runs again; the kernel drops such clean file-backed pages first under
 * memory pressure. This measures the working set the way `wss` tools do: write `1` to
 * `/proc/<pid>/clear_refs` (clears the accessed bits), wait or load for a window, then sum
 * `Referenced:` of `/proc/<pid>/smaps` — for the deno binary's file-backed mappings, other
 * file-backed mappings (libraries), and anonymous memory (V8 heap, C heap, stacks).
 *
 * The pages of a file are shared by every process that maps it, and another process's use of a
 * page shows as referenced here too (seen: 36 MiB of the binary "touched" by an idle agent while
 * tests ran other deno processes, 12 MiB with a private copy). So the script first copies the
 * deno binary to a temp file and runs itself, and the agent, from that copy.
 *
 * Windows: the agent idle with `--services` services (`--idle` s), then dnsperf (10 clients,
 * `--seconds` s) on their names. The agent runs under the production permission flags in a
 * network namespace of its own (`em-wss-<random>`), removed at the end.
 *
 * Run (root): `deno run -A bench/micro/working_set.ts [--services 100] [--idle 30] [--seconds 10]`.
 * @module
 */
// deno-lint-ignore-file no-console
import { parseArgs } from "node:util";
import { join } from "node:path";
import { startAgent } from "../../tests/_helpers/agent.ts";
import { createNetns } from "../../tests/_helpers/netns.ts";
import { buildMessage, ControlClient } from "../../lib/control/mod.ts";
import { burstServices, serviceChanges, serviceFqdn } from "../lib/k8s.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    services: { type: "string", default: "100" },
    idle: { type: "string", default: "30" },
    seconds: { type: "string", default: "10" },
  },
  strict: true,
});

/** kB of `Rss:` and `Referenced:` per kind of mapping. */
interface Usage {
  readonly kind: "binary" | "other file" | "anonymous";
  rss: number;
  referenced: number;
}

/** Sums `/proc/<pid>/smaps` by kind: the deno executable, other files, anonymous. */
function smaps(pid: number, exe: string): Usage[] {
  const out: Usage[] = [
    { kind: "binary", rss: 0, referenced: 0 },
    { kind: "other file", rss: 0, referenced: 0 },
    { kind: "anonymous", rss: 0, referenced: 0 },
  ];
  let current = out[2]!;
  for (const line of Deno.readTextFileSync(`/proc/${pid}/smaps`).split("\n")) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (header) {
      const inode = header[1]!;
      const path = header[2]!;
      current = path === exe ? out[0]! : inode !== "0" ? out[1]! : out[2]!;
      continue;
    }
    const field = /^(Rss|Referenced|Anonymous):\s+(\d+) kB/.exec(line);
    if (!field) continue;
    const kb = Number(field[2]);
    // A private file mapping's copied-on-write pages are anonymous memory (relocated data).
    if (field[1] === "Rss") current.rss += kb;
    if (field[1] === "Referenced") current.referenced += kb;
  }
  return out;
}

function report(title: string, usage: readonly Usage[]): void {
  console.log(
    `\n${title}\n\n| mapping | resident MiB | touched in the window MiB |\n| --- | ---: | ---: |`,
  );
  for (const u of usage) {
    console.log(
      `| ${u.kind} | ${(u.rss / 1024).toFixed(1)} | ${(u.referenced / 1024).toFixed(1)} |`,
    );
  }
  const rss = usage.reduce((a, u) => a + u.rss, 0);
  const ref = usage.reduce((a, u) => a + u.referenced, 0);
  console.log(`| total | ${(rss / 1024).toFixed(1)} | ${(ref / 1024).toFixed(1)} |`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

if (Deno.env.get("EM_WSS_PRIVATE") === undefined) {
  const copy = await Deno.makeTempFile({ prefix: "em-wss-deno-" });
  try {
    await Deno.copyFile(Deno.execPath(), copy);
    await Deno.chmod(copy, 0o755);
    const { code } = await new Deno.Command(copy, {
      args: ["run", "-A", new URL(import.meta.url).pathname, ...Deno.args],
      env: { EM_WSS_PRIVATE: "1" },
    }).spawn().status;
    Deno.exit(code);
  } finally {
    await Deno.remove(copy);
  }
}

await using ns = await createNetns("wss");
await using agent = await startAgent({ config: { nodeName: "wss-node" }, netns: ns });
const exe = Deno.readLinkSync(`/proc/${agent.pid}/exe`);
const services = burstServices(0, Number(values.services));
const client = await ControlClient.connect(agent.socketPath);
try {
  const replies = await Promise.all(
    services.flatMap(serviceChanges).map((c) =>
      client.send(buildMessage({ ...c, source: "working-set" }))
    ),
  );
  if (replies.some((r) => !r.ok)) throw new Error("the agent refused a service");
} finally {
  await client.close();
}
// Let the burst's garbage go (V8's memory reducer runs ~30 s after activity).
await sleep(35_000);

Deno.writeTextFileSync(`/proc/${agent.pid}/clear_refs`, "1");
await sleep(Number(values.idle) * 1000);
report(`Idle, ${services.length} services, ${values.idle} s window`, smaps(agent.pid, exe));

const queries = join(agent.dir, "queries.txt");
await Deno.writeTextFile(queries, services.map((s) => `${serviceFqdn(s)} A`).join("\n") + "\n");
Deno.writeTextFileSync(`/proc/${agent.pid}/clear_refs`, "1");
const r = await new Deno.Command("ip", {
  args: [
    "netns",
    "exec",
    ns.name,
    "dnsperf",
    "-s",
    "9.251.0.1",
    "-d",
    queries,
    "-c",
    "10",
    "-l",
    values.seconds,
  ],
  stdout: "piped",
  stderr: "piped",
}).output();
const qps = /Queries per second:\s+([\d.]+)/.exec(new TextDecoder().decode(r.stdout))?.[1];
report(
  `dnsperf on service names, ${values.seconds} s window (${qps} queries/s)`,
  smaps(agent.pid, exe),
);
