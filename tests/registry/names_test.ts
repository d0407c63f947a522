// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import {
  checkName,
  followsRule,
  isDns1035Label,
  isDns1123Label,
  isDns1123Subdomain,
  isIanaSvcName,
  NAME_RULES,
  nameProblem,
  type NameRule,
  NAMESPACE_RULE,
} from "../../lib/registry/names.ts";
import { Problems } from "../../lib/registry/problems.ts";

const a63 = "a".repeat(63);
const a64 = "a".repeat(64);

Deno.test("name predicates follow Kubernetes' IsDNS1035Label, IsDNS1123Label, IsDNS1123Subdomain, IsValidPortName", async (t) => {
  // [name, DNS-1035 label, DNS-1123 label, DNS-1123 subdomain, IANA_SVC_NAME]
  const rows: [string, boolean, boolean, boolean, boolean][] = [
    ["nginx", true, true, true, true],
    ["a", true, true, true, true],
    ["web-1", true, true, true, true],
    ["x.y", false, false, true, false],
    ["z.x.y", false, false, true, false],
    ["1abc", false, true, true, true],
    ["8080", false, true, true, false],
    ["NGINX", false, false, false, false],
    ["Nginx", false, false, false, false],
    ["a_b", false, false, false, false],
    ["ngïnx", false, false, false, false],
    ["bad ns!", false, false, false, false],
    ["-a", false, false, false, false],
    ["a-", false, false, false, false],
    ["a--b", true, true, true, false],
    ["", false, false, false, false],
    [".a", false, false, false, false],
    ["a.", false, false, false, false],
    ["a..b", false, false, false, false],
    ["nginx\n", false, false, false, false],
    ["a-very-long-port", true, true, true, false], // 16 characters: too long for a port name
    [a63, true, true, true, false],
    [a64, false, false, true, false],
    ["x".repeat(70), false, false, true, false],
    [`${a64}.b`, false, false, true, false], // Kubernetes limits only the subdomain's length
    [Array(4).fill(a63).join(".").slice(0, 253), false, false, true, false],
    ["a" + ".a".repeat(126), false, false, true, false], // 253 characters
    ["a" + ".a".repeat(127), false, false, false, false], // 255 characters
  ];
  for (const [name, l1035, l1123, sub, iana] of rows) {
    await t.step(
      JSON.stringify(name.length > 40 ? `${name.slice(0, 20)}…(${name.length})` : name),
      () => {
        assert.deepEqual(
          [
            isDns1035Label(name),
            isDns1123Label(name),
            isDns1123Subdomain(name),
            isIanaSvcName(name),
          ],
          [l1035, l1123, sub, iana],
        );
      },
    );
  }
});

Deno.test("nameProblem() and checkName() explain the rule that was broken", async (t) => {
  const rows: [string, NameRule, string | null][] = [
    ["nginx", "DNS-1035 label", null],
    [
      "NGINX",
      "DNS-1035 label",
      `"NGINX" is not a valid DNS-1035 label (lowercase letters, digits and '-', starting with a ` +
      "letter, ending with a letter or digit, at most 63 characters)",
    ],
    [
      "Bad_NS",
      "DNS-1123 label",
      `"Bad_NS" is not a valid DNS-1123 label (lowercase letters, digits and '-', starting and ` +
      "ending with a letter or digit, at most 63 characters)",
    ],
    [
      "Pod.1",
      "DNS-1123 subdomain",
      `"Pod.1" is not a valid DNS-1123 subdomain (lowercase letters, digits, '-' and '.', each ` +
      "dot-separated part starting and ending with a letter or digit, at most 253 characters)",
    ],
    [
      "8080",
      "IANA_SVC_NAME",
      `"8080" is not a valid IANA_SVC_NAME (lowercase letters, digits and '-', at least one ` +
      "letter, no '--', starting and ending with a letter or digit, at most 15 characters)",
    ],
  ];
  for (const [name, rule, want] of rows) {
    await t.step(`${rule} ${name}`, () => {
      assert.equal(nameProblem(name, rule), want);
      assert.equal(followsRule(name, rule), want === null);
      const p = new Problems();
      assert.equal(checkName(name, rule, "metadata.name", p), want === null);
      assert.deepEqual(
        p.list.map((x) => [x.cls, x.text]),
        want === null ? [] : [[RangeError, `metadata.name ${want}`]],
      );
    });
  }
});

Deno.test("NAME_RULES: Services and Endpoints are DNS-1035 labels, the rest DNS-1123 subdomains", () => {
  assert.deepEqual(NAME_RULES, {
    Service: "DNS-1035 label",
    Endpoints: "DNS-1035 label",
    EndpointSlice: "DNS-1123 subdomain",
    Pod: "DNS-1123 subdomain",
    Node: "DNS-1123 subdomain",
  });
  assert.equal(NAMESPACE_RULE, "DNS-1123 label");
});
