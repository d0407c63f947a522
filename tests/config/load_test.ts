// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../../lib/config/mod.ts";

async function withFile(name: string, text: string, fn: (path: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "em-config-" });
  try {
    const path = `${dir}/${name}`;
    await Deno.writeTextFile(path, text);
    await fn(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("loadConfig() without a file gives the embedded defaults", async () => {
  const cfg = await loadConfig({ hostname: "node-a" });
  assert.equal(cfg.nodeName, "node-a");
  assert.equal(cfg.device, "edge0");
  assert.deepEqual(cfg.dnsListen, ["9.251.0.1:53"]);
});

Deno.test("loadConfig() reads YAML and JSON files", async (t) => {
  await t.step("YAML", () =>
    withFile(
      "edgemesh.yaml",
      "# edge box\nnodeName: edge-1\nsubnet: 10.250.0.0/16\ndnsListen:\n  - 127.0.0.1:5353\n" +
        "peers:\n  edge-2: 192.0.2.2:40001\nlbStrategy: Random\n",
      async (path) => {
        const cfg = await loadConfig({ file: path, hostname: "h" });
        assert.equal(cfg.nodeName, "edge-1");
        assert.equal(cfg.subnet, "10.250.0.0/16");
        assert.deepEqual(cfg.dnsListen, ["127.0.0.1:5353"]);
        assert.deepEqual(cfg.peers, { "edge-2": "192.0.2.2:40001" });
        assert.equal(cfg.lbStrategy, "Random");
      },
    ));
  await t.step(
    "JSON",
    () =>
      withFile(
        "edgemesh.json",
        '{"subnet": "10.251.0.0/24", "logFormat": "json"}',
        async (path) => {
          const cfg = await loadConfig({ file: path, hostname: "h" });
          assert.deepEqual(cfg.dnsListen, ["10.251.0.1:53"]);
          assert.equal(cfg.logFormat, "json");
        },
      ),
  );
  await t.step("empty file", () =>
    withFile("empty.yaml", "", async (path) => {
      assert.equal((await loadConfig({ file: path, hostname: "h" })).subnet, "9.251.0.0/16");
    }));
});

Deno.test("loadConfig() applies flag overrides over the file", async () => {
  await withFile("c.yaml", "subnet: 10.250.0.0/16\nlogLevel: warn\ndevice: em0\n", async (path) => {
    const cfg = await loadConfig({
      file: path,
      hostname: "h",
      overrides: { subnet: "10.77.0.0/16", logLevel: "debug", nodeName: undefined },
    });
    assert.equal(cfg.subnet, "10.77.0.0/16");
    assert.deepEqual(cfg.dnsListen, ["10.77.0.1:53"]);
    assert.equal(cfg.logLevel, "debug");
    assert.equal(cfg.device, "em0");
    assert.equal(cfg.nodeName, "h");
  });
});

Deno.test("loadConfig() reports file problems with the file name", async (t) => {
  const rows: [string, string, string][] = [
    ["YAML syntax", "subnet: [\n", "line 2, column 1: "],
    [
      "duplicate key",
      "subnet: 10.0.0.0/8\nsubnet: 10.0.0.0/8\n",
      'line 2, column 1: Map keys must be unique (key "subnet")',
    ],
    ["not a mapping", "- a\n- b\n", "expected a mapping of keys to values, got a list"],
    ["invalid value", "subnet: 9.251.0.0/33\nsubent: x\n", 'subnet: "9.251.0.0/33" is not a CIDR'],
  ];
  for (const [name, text, want] of rows) {
    await t.step(name, () =>
      withFile("bad.yaml", text, async (path) => {
        await assert.rejects(() => loadConfig({ file: path, hostname: "h" }), (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.equal(err.file, path);
          assert.ok(err.message.startsWith(`Cannot load config "${path}": `), err.message);
          assert.ok(err.message.includes(want), err.message);
          return true;
        });
      }));
  }
  await t.step("missing file", async () => {
    await assert.rejects(() => loadConfig({ file: "/nonexistent/edgemesh.yaml", hostname: "h" }), {
      name: "ConfigError",
      message: 'Cannot load config "/nonexistent/edgemesh.yaml": file does not exist',
    });
  });
});
