// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Every metric the agent registers is documented: operators find the names in README.md (the
 * list under "Metrics and health") or in the README of the module that registers them.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { MetricsRegistry, registerProcessMetrics } from "../../lib/metrics/mod.ts";

const ROOT = new URL("../../", import.meta.url);

/** Every `.ts` file under `dir` (a `file:` URL ending in `/`). */
async function* sources(dir: URL): AsyncGenerator<URL> {
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory) yield* sources(new URL(`${e.name}/`, dir));
    else if (e.isFile && e.name.endsWith(".ts")) yield new URL(e.name, dir);
  }
}

/** README.md and every lib/<module>/README.md, concatenated. */
async function docs(): Promise<string> {
  const texts = [await Deno.readTextFile(new URL("README.md", ROOT))];
  for await (const e of Deno.readDir(new URL("lib/", ROOT))) {
    if (!e.isDirectory) continue;
    try {
      texts.push(await Deno.readTextFile(new URL(`lib/${e.name}/README.md`, ROOT)));
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return texts.join("\n");
}

Deno.test("every metric name in lib/ is named in README.md or a module README", async () => {
  // Metric names are string literals ("edgemesh_<area>_<what>"), whatever helper registers them.
  const names = new Set<string>();
  for await (const file of sources(new URL("lib/", ROOT))) {
    const text = await Deno.readTextFile(file);
    for (const m of text.matchAll(/"(edgemesh_[a-z0-9_]+)"/g)) names.add(m[1]!);
  }
  assert.ok(
    names.size >= 30,
    `found the metric names (${names.size}) in ${fileURLToPath(ROOT)}lib`,
  );
  const text = await docs();
  const missing = [...names].filter((n) => !new RegExp(`\\b${n}\\b`).test(text)).sort();
  assert.deepEqual(missing, [], "metrics registered but not documented");
});

Deno.test("README.md names edgemesh_build_info's labels", async () => {
  const registry = new MetricsRegistry();
  registerProcessMetrics(registry, "1.0.0");
  const line = registry.render().split("\n").find((l) => l.startsWith("edgemesh_build_info{"));
  assert.ok(line, registry.render());
  const labels = [...line.matchAll(/(\w+)="/g)].map((m) => m[1]!).sort();
  assert.deepEqual(labels, ["arch", "commit", "deno", "version"]);
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  assert.ok(readme.includes(`edgemesh_build_info{${labels.join(",")}}`), "README names the labels");
});
