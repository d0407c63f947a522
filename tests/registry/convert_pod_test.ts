// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Conversion of Pods and the endpoints derived from them (`lib/registry/convert_pod.ts`).
 */
import assert from "node:assert/strict";
import { convertChange, podEndpoints } from "../../lib/registry/mod.ts";
import { change, serviceOf, svcContent } from "./_convert_fixtures.ts";

Deno.test("convertChange() keeps a pod whose IP cannot be an endpoint, warns, and podEndpoints() skips it", async (t) => {
  const pod = (name: string, podIP: string) => ({
    metadata: { name, namespace: "default", labels: { app: "web" } },
    spec: { nodeName: "node-b", containers: [{ ports: [{ containerPort: 8080 }] }] },
    status: { phase: "Running", podIP, conditions: [{ type: "Ready", status: "True" }] },
  });
  const svc = serviceOf(
    convertChange(change("default/service/web", svcContent("web", { ports: [{ port: 80 }] }))),
  );
  const rows: { ip: string; warning: string | null }[] = [
    {
      ip: "127.0.0.1",
      warning: 'Not using pod "default/p" as an endpoint: status.podIP "127.0.0.1" may not be in ' +
        "the loopback range (127.0.0.0/8, ::1/128) (Kubernetes would not publish it as an " +
        "endpoint either)",
    },
    {
      ip: "fe80::2",
      warning: 'Not using pod "default/p" as an endpoint: status.podIP "fe80::2" may not be in ' +
        "the link-local range (169.254.0.0/16, fe80::/10) (Kubernetes would not publish it as " +
        "an endpoint either)",
    },
    { ip: "10.0.0.7", warning: null },
  ];
  for (const r of rows) {
    await t.step(r.ip, () => {
      const c = convertChange(change("default/pod/p", pod("p", r.ip)));
      assert.ok(c.type === "pod" && c.pod !== null);
      assert.equal(c.pod.ip, r.ip, "the pod is kept as sent");
      assert.deepEqual(
        c.warnings,
        r.warning === null ? [] : [{ msg: r.warning, fields: { pod: "default/p" } }],
      );
      const eps = podEndpoints(svc, [c.pod]);
      assert.deepEqual(eps.map((e) => e.ip), r.warning === null ? [r.ip] : []);
    });
  }
  await t.step("in a podlist: the list is accepted, the pod is named with its index", () => {
    const c = convertChange(
      change("default/podlist/web", [pod("ok", "10.0.0.8"), pod("lo", "127.0.0.2")]),
    );
    assert.ok(c.type === "podlist" && c.pods?.length === 2);
    assert.deepEqual(c.warnings.map((w) => w.msg), [
      'Not using pod "default/lo" as an endpoint: [1].status.podIP "127.0.0.2" may not be in the ' +
      "loopback range (127.0.0.0/8, ::1/128) (Kubernetes would not publish it as an endpoint " +
      "either)",
    ]);
    assert.deepEqual(podEndpoints(svc, c.pods).map((e) => e.ip), ["10.0.0.8"]);
  });
});
