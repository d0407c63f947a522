// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { yamlErrorText } from "../../lib/config/yaml_error.ts";

Deno.test("yamlErrorText() gives the position and names a repeated key", async (t) => {
  const rows: [string, string, { code?: string; pos: number[]; message: string }, string][] = [
    [
      "plain key",
      "a: 1\nsubnet: x\nsubnet: y\n",
      { code: "DUPLICATE_KEY", pos: [15, 16], message: "Map keys must be unique" },
      'line 3, column 1: Map keys must be unique (key "subnet")',
    ],
    [
      "quoted key in JSON",
      '{"dnsTtl": 1, "dnsTtl": 2}',
      { code: "DUPLICATE_KEY", pos: [14, 15], message: "Map keys must be unique" },
      'line 1, column 15: Map keys must be unique (key "dnsTtl")',
    ],
    [
      "nested key",
      "peers:\n  a: x\n  a: y\n",
      { code: "DUPLICATE_KEY", pos: [16, 17], message: "Map keys must be unique" },
      'line 3, column 3: Map keys must be unique (key "a")',
    ],
    [
      "other errors keep their first line only",
      "subnet: [\n",
      { code: "MISSING_CHAR", pos: [10, 10], message: "Expected ] here\n\n  detail" },
      "line 2, column 1: Expected ] here",
    ],
  ];
  for (const [name, text, err, want] of rows) {
    await t.step(name, () => assert.equal(yamlErrorText(text, err), want));
  }
});
