// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Resident memory of the agent depends on what `main.ts` loads at start: any npm package pulls
 * in Deno's npm/node-compat machinery (+8–10 MiB), `node:http2` and `node:crypto` their
 * polyfills (+8.5 MiB together), measured with bench/micro/rss_imports.ts. Those must only be
 * imported dynamically, when used (YAML text, a running tunnel). This test reads the module
 * graph (`deno info --json`) of `main.ts` and of the proxy worker (one per proxy thread, each
 * loading its own modules) and follows static imports only.
 */
import assert from "node:assert/strict";
import { DENO_JSON, MAIN_TS } from "../_helpers/agent.ts";

interface GraphDependency {
  readonly specifier: string;
  readonly isDynamic?: boolean;
  readonly code?: { readonly specifier?: string };
}
interface GraphModule {
  readonly specifier: string;
  readonly dependencies?: readonly GraphDependency[];
}

/** Built-in modules that cost several MiB just by being loaded. */
const HEAVY_NODE = ["node:http2", "node:crypto", "node:tls", "node:net"];

const ENTRIES = [MAIN_TS, new URL("../../lib/proxy/worker.ts", import.meta.url).pathname];

Deno.test("the agent loads no npm package and no heavy node: module statically", async (t) => {
  for (const entry of ENTRIES) {
    await t.step(entry.slice(entry.lastIndexOf("/lib/") + 1), () => checkStaticImports(entry));
  }
});

async function checkStaticImports(entry: string): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "--config", DENO_JSON, entry],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const graph = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    roots: string[];
    modules: GraphModule[];
  };
  const modules = new Map(graph.modules.map((m) => [m.specifier, m]));
  const importedBy = new Map<string, string>();
  const seen = new Set<string>();
  const stack = [...graph.roots];
  while (stack.length > 0) {
    const s = stack.pop()!;
    if (seen.has(s)) continue;
    seen.add(s);
    for (const dep of modules.get(s)?.dependencies ?? []) {
      const target = dep.code?.specifier;
      if (dep.isDynamic || target === undefined || seen.has(target)) continue;
      if (!importedBy.has(target)) importedBy.set(target, s);
      stack.push(target);
    }
  }
  const heavy = [...seen]
    .filter((s) => s.startsWith("npm:") || HEAVY_NODE.includes(s))
    .map((s) => `${s} (imported by ${importedBy.get(s)})`);
  assert.deepEqual(heavy, [], "import these with `await import()` where they are needed");
  assert.ok(seen.size > 5, `the graph was read (${seen.size} modules)`);
}
