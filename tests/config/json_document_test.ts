// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { parseDocument } from "yaml";
import { readJsonDocument } from "../../lib/config/json_document.ts";
import { parseConfigText } from "../../lib/config/mod.ts";
import { parseManifests } from "../../lib/cli/mod.ts";
import { DENO_JSON } from "../_helpers/agent.ts";

Deno.test("readJsonDocument() gives what the YAML parser gives for JSON", async (t) => {
  const rows: [string, string][] = [
    ["object", '{"nodeName":"a","dnsTtl":5,"upstreams":["1.1.1.1:53"],"x":null,"y":true}'],
    ["list", '[1, 2.5, -3e2, "s"]'],
    ["blanks and newlines", ' \n\t{ "a" :\r\n {"b": [ ] } }\n'],
    ["escapes in keys and values", '{"a\\"b:": "c\\\\d", "e\\u00e9": "\\/\\n"}'],
    ["colons inside strings", '{"a": "b:c", "d": ["e:", ":"]}'],
    ["the same key in different objects", '{"a": {"k": 1}, "b": {"k": 2}}'],
    ["__proto__ is an ordinary key", '{"__proto__": {"polluted": true}}'],
  ];
  for (const [name, text] of rows) {
    await t.step(name, () => {
      const got = readJsonDocument(text);
      assert.ok(got !== null, "read as JSON");
      assert.deepEqual(got.value, parseDocument(text, { uniqueKeys: true }).toJS());
    });
  }
});

Deno.test("readJsonDocument() leaves everything else to the YAML parser", async (t) => {
  const rows: [string, string][] = [
    ["YAML mapping", "nodeName: a\n"],
    ["YAML flow mapping", "{nodeName: a}"],
    ["a repeated key (YAML reports it)", '{"a": 1, "a": 2}'],
    ["a repeated key deep inside", '{"x": [{"k": 1, "k": 1}]}'],
    ["trailing comma", '{"a": 1,}'],
    ["a scalar", '"x"'],
    ["empty", ""],
    ["comment only", "# nothing\n"],
    ["two documents", '{"a": 1}\n---\n{"b": 2}\n'],
  ];
  for (const [name, text] of rows) {
    await t.step(name, () => assert.equal(readJsonDocument(text), null));
  }
});

Deno.test("parseConfigText() reports a repeated JSON key as the YAML parser does", async () => {
  await assert.rejects(parseConfigText('{"dnsTtl": 1, "dnsTtl": 2}', "c.json"), (err: Error) => {
    assert.equal(err.name, "ConfigError");
    assert.match(err.message, /line 1, column \d+: Map keys must be unique \(key "dnsTtl"\)/);
    return true;
  });
});

Deno.test("JSON configs and manifests are read without npm packages", async () => {
  // `--no-npm` makes any npm import fail: the JSON paths must not reach `yaml`, while the YAML
  // path must (which shows the probe would notice).
  const dir = await Deno.makeTempDir({ prefix: "em-nonpm-" });
  try {
    const probe = `${dir}/probe.ts`;
    const root = new URL("../../", import.meta.url).href;
    await Deno.writeTextFile(
      probe,
      `import { parseConfigText } from "${root}lib/config/mod.ts";\n` +
        `import { parseManifests } from "${root}lib/cli/mod.ts";\n` +
        `const c = await parseConfigText(Deno.args[0]);\n` +
        `const m = await parseManifests(Deno.args[1]);\n` +
        `console.log(JSON.stringify([c, m.length]));\n`,
    );
    const run = (config: string, manifest: string) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "--no-npm", "--allow-read", "--config", DENO_JSON, probe, config, manifest],
        stdout: "piped",
        stderr: "piped",
      }).output();
    const json = await run('{"nodeName":"a"}', '{"kind":"Service","metadata":{"name":"s"}}');
    assert.equal(json.code, 0, new TextDecoder().decode(json.stderr));
    assert.equal(new TextDecoder().decode(json.stdout), '[{"nodeName":"a"},1]\n');
    const yaml = await run("nodeName: a\n", "{}");
    assert.notEqual(yaml.code, 0, "the YAML path loads npm:yaml");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseManifests() reads a JSON manifest like the YAML parser did", async () => {
  const text = '{"kind":"List","items":[{"kind":"Pod","metadata":{"name":"p"}}]}';
  const items = await parseManifests(text, "dev");
  assert.deepEqual(items.map((i) => i.ok && i.object.label), ["pod/dev/p"]);
});
