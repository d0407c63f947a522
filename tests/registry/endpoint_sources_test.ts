// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Endpoint source precedence (`lib/registry/endpoint_sources.ts`), through the registry.
 */
import assert from "node:assert/strict";
import { backendsFor, type ResourceChange } from "../../lib/registry/mod.ts";
import { open, summary, svc, withDir } from "./_fixtures.ts";

Deno.test("Registry picks endpoint sources by precedence and joins early endpoints", async () => {
  await withDir("em-registry-", async (dir) => {
    const reg = await open(dir);
    const ns = "shop";
    const pod = (name: string, ip: string) => ({
      metadata: { name, labels: { app: "web" } },
      spec: { containers: [{ ports: [{ name: "http", containerPort: 8080 }] }] },
      status: { phase: "Running", podIP: ip, conditions: [{ type: "Ready", status: "True" }] },
    });
    const ch = (
      type: ResourceChange["type"],
      name: string,
      content: unknown,
      operation: ResourceChange["operation"] = "insert",
    ): ResourceChange => ({ operation, namespace: ns, type, name, content });
    const slice = (name: string, ip: string) =>
      ch("endpointslice", name, {
        metadata: { name, labels: { "kubernetes.io/service-name": "web" } },
        addressType: "IPv4",
        endpoints: [{ addresses: [ip] }],
        ports: [{ name: "", port: 8080 }],
      });
    const state = () => summary(reg.snapshot())["shop/web"];
    // endpoints before their service are kept and joined later
    await reg.apply(ch("podlist", "web", [pod("p1", "10.0.0.1")]));
    assert.equal(reg.snapshot().services.size, 0);
    await reg.apply(
      svc(ns, "web", { selector: { app: "web" }, ports: [{ port: 80, targetPort: "http" }] }),
    );
    assert.equal(state(), "9.251.0.2 podlist 10.0.0.1");
    await reg.apply(
      ch("endpoints", "web", {
        metadata: { name: "web" },
        subsets: [{ addresses: [{ ip: "10.0.1.1" }], ports: [{ port: 8080 }] }],
      }),
    );
    assert.equal(state(), "9.251.0.2 endpoints 10.0.1.1");
    await reg.apply(slice("web-a", "10.0.2.1"));
    await reg.apply(slice("web-b", "10.0.2.2"));
    assert.equal(state(), "9.251.0.2 endpointslice 10.0.2.1,10.0.2.2");
    await reg.apply(ch("endpointslice", "web-a", undefined, "delete"));
    assert.equal(state(), "9.251.0.2 endpointslice 10.0.2.2");
    await reg.apply(ch("endpointslice", "web-b", undefined, "delete"));
    assert.equal(state(), "9.251.0.2 endpoints 10.0.1.1");
    await reg.apply(ch("endpoints", "web", undefined, "delete"));
    assert.equal(state(), "9.251.0.2 podlist 10.0.0.1");
    await reg.apply(ch("podlist", "web", undefined, "delete"));
    assert.equal(state(), "9.251.0.2 none");
    // single pods matching the selector (ctl apply of Pods) are used when nothing else exists
    await reg.apply(ch("pod", "p9", pod("p9", "10.0.9.9")));
    assert.equal(state(), "9.251.0.2 podlist 10.0.9.9");
    const web = reg.snapshot().services.get("shop/web")!;
    assert.deepEqual(backendsFor(web, web.service.ports[0]!).map((b) => b.port), [8080]);
    await reg.apply(ch("pod", "p9", undefined, "delete"));
    assert.equal(state(), "9.251.0.2 none");
    await reg.close();
  });
});
