// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import {
  formatEndpoints,
  formatPorts,
  formatServiceTable,
  formatStatus,
  formatVip,
} from "../../lib/cli/mod.ts";
import type { ServiceView } from "../../lib/control/mod.ts";

const view = (over: Partial<ServiceView>): ServiceView => ({
  namespace: "default",
  name: "web",
  vip: null,
  ports: [],
  endpoints: [],
  ...over,
});
const ep = (ip: string, port: number, ready = true) => ({ ip, port, nodeName: null, ready });

Deno.test("formatPorts() and formatEndpoints() summarise a service", async (t) => {
  await t.step("ports", () => {
    assert.equal(formatPorts(view({})), "<none>");
    assert.equal(
      formatPorts(view({
        ports: [
          { name: "web", protocol: "TCP", port: 80, targetPort: 8080 },
          { name: "m", protocol: "TCP", port: 9100, targetPort: "metrics" },
        ],
      })),
      "80/TCP→8080,9100/TCP→metrics",
    );
  });
  const rows: [string, ServiceView["endpoints"], string][] = [
    ["none", [], "<none>"],
    ["ready", [ep("10.0.0.1", 80), ep("10.0.0.2", 80)], "10.0.0.1:80,10.0.0.2:80"],
    ["not ready only", [ep("10.0.0.1", 80, false)], "<none> (+1 not ready)"],
    // Dual-stack: an IPv6 endpoint in brackets (was "2001:db8::2:8080", another address).
    ["IPv6", [ep("2001:db8::2", 8080), ep("10.0.0.1", 80)], "[2001:db8::2]:8080,10.0.0.1:80"],
    [
      "many",
      [1, 2, 3, 4, 5].map((i) => ep(`10.0.0.${i}`, 80)).concat([ep("10.0.0.9", 80, false)]),
      "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 +2 more (+1 not ready)",
    ],
  ];
  for (const [name, endpoints, want] of rows) {
    await t.step(
      `endpoints: ${name}`,
      () => assert.equal(formatEndpoints(view({ endpoints })), want),
    );
  }
});

Deno.test("formatServiceTable() aligns columns", () => {
  assert.equal(
    formatServiceTable([
      view({ vip: "9.251.0.2" }),
      view({ namespace: "kube-system", name: "dns" }),
    ]),
    "NAMESPACE     NAME   VIP         PORTS    ENDPOINTS\n" +
      "default       web    9.251.0.2   <none>   <none>\n" +
      "kube-system   dns    <none>      <none>   <none>\n",
  );
});

Deno.test("formatVip() says why a service another proxy handles has no VIP", async (t) => {
  const rows: [string, Partial<ServiceView>, string][] = [
    ["a VIP", { vip: "9.251.0.2" }, "9.251.0.2"],
    ["none", {}, "<none>"],
    ["another proxy", { proxyName: "istio" }, "<none> (service-proxy-name=istio)"],
    ["another proxy, empty label value", { proxyName: "" }, "<none> (service-proxy-name=)"],
    [
      "the pool was full",
      { vipError: 'Cannot allocate VIP for "default/web": subnet 10.99.0.0/29 is full' },
      "<none> (subnet 10.99.0.0/29 is full)",
    ],
  ];
  for (const [name, over, want] of rows) {
    await t.step(name, () => assert.equal(formatVip(view(over)), want));
  }
  assert.equal(
    formatServiceTable([view({ name: "mesh", proxyName: "istio" })]),
    "NAMESPACE   NAME   VIP                                 PORTS    ENDPOINTS\n" +
      "default     mesh   <none> (service-proxy-name=istio)   <none>   <none>\n",
  );
});

Deno.test("formatStatus() shows unknown parts as -", () => {
  const text = formatStatus({
    node: "edge-1",
    counts: { services: 2, endpoints: 5, vips: 1, nodes: 0 },
    startedAt: "2026-01-01T00:00:00.000Z",
    lastSync: null,
    tunnel: { state: "off", detail: "no tunnelKeyFile" },
    peers: [{ name: "edge-2", address: "192.0.2.2:40001", state: "up" }],
  }, Date.parse("2026-01-01T00:01:05.000Z"));
  assert.equal(
    text,
    [
      "Node:       edge-1",
      "Version:    -",
      "Started:    2026-01-01T00:00:00.000Z (1m5s ago)",
      "Device:     -",
      "Addresses:  -",
      "Services:   2 (1 with a VIP)",
      "Endpoints:  5",
      "Nodes:      0",
      "Listeners:  -",
      "Proxy:      -",
      "DNS:        -",
      "Tunnel:     off (no tunnelKeyFile)",
      "Peers:      edge-2 192.0.2.2:40001 up",
      "Updated:    no change since start",
      "Registry:   -",
      "",
    ].join("\n"),
  );
});

Deno.test("formatStatus() shows the build's commit after the version, when the agent knows it", () => {
  const base = {
    node: "n",
    version: "0.1.0",
    counts: { services: 0, endpoints: 0, vips: 0, nodes: 0 },
  };
  const commit = "4c8ed3b5e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7";
  const rows: [Parameters<typeof formatStatus>[0]["build"], string][] = [
    [{ commit, source: "build", dirty: false }, `(build)`],
    [{ commit, source: "build", dirty: true }, `(build, uncommitted changes)`],
    [{ commit, source: "checkout" }, `(git checkout)`],
  ];
  for (const [build, origin] of rows) {
    assert.ok(
      formatStatus({ ...base, build }, 0).includes(
        `Version:    0.1.0\nCommit:     ${commit} ${origin}\nStarted:`,
      ),
      formatStatus({ ...base, build }, 0),
    );
  }
  assert.ok(!formatStatus(base, 0).includes("Commit:"), "unknown: no row");
});

Deno.test("formatStatus() tells an applied registry version from one reconciling or failed", () => {
  const base = { node: "n", counts: { services: 0, endpoints: 0, vips: 0, nodes: 0 } };
  const rows: [number | undefined, string][] = [
    [7, "Registry:   version 7 (applied)"],
    [5, "Registry:   version 7 (reconciling, applied up to 5)"],
    [undefined, "Registry:   version 7"],
  ];
  for (const [reconciledVersion, want] of rows) {
    const s = reconciledVersion === undefined
      ? { ...base, registryVersion: 7 }
      : { ...base, registryVersion: 7, reconciledVersion };
    assert.ok(formatStatus(s, 0).includes(want + "\n"), formatStatus(s, 0));
  }
  const failed = {
    ...base,
    registryVersion: 7,
    reconciledVersion: 5,
    reconcileFailures: [{ component: "netdev", version: 7, error: "device edge0 is gone" }],
  };
  const want = "Registry:   version 7 (failed, retrying: netdev: device edge0 is gone; " +
    "applied up to 5)\n";
  assert.ok(formatStatus(failed, 0).includes(want), formatStatus(failed, 0));
});

Deno.test("formatStatus() ends with a warning row when the state was damaged at start", () => {
  const base = { node: "n", counts: { services: 0, endpoints: 0, vips: 0, nodes: 0 } };
  assert.ok(!formatStatus(base, 0).includes("Warning:"));
  const text = formatStatus({ ...base, stateWarning: 'Journal "/s/state.journal" is damaged' }, 0);
  assert.ok(text.endsWith('Warning:    Journal "/s/state.journal" is damaged\n'), text);
});

Deno.test("formatStatus() ends with a warning row while state writes fail", () => {
  const base = { node: "n", counts: { services: 0, endpoints: 0, vips: 0, nodes: 0 } };
  const stateWriteError = {
    since: "2026-01-02T03:04:05.000Z",
    reason: "No space left on device (os error 28)",
    refused: 3,
  };
  const text = formatStatus({ ...base, stateWriteError }, 0);
  assert.ok(
    text.endsWith(
      "Warning:    cannot write state, every change is refused (3 since " +
        "2026-01-02T03:04:05.000Z): No space left on device (os error 28)\n",
    ),
    text,
  );
});

Deno.test("formatStatus() ends with a warning row per VIP another interface also holds", () => {
  const base = { node: "n", counts: { services: 1, endpoints: 0, vips: 1, nodes: 0 } };
  const vipConflicts = [{ service: "default/web", vip: "9.251.0.7", interface: "eth1" }];
  const text = formatStatus({ ...base, vipConflicts }, 0);
  assert.ok(
    text.endsWith(
      "Warning:    VIP 9.251.0.7 of default/web is also on eth1: remove it there or change " +
        "subnet\n",
    ),
    text,
  );
});

Deno.test("formatStatus() shows when the last change request came, next to the last change", () => {
  const base = {
    node: "n",
    counts: { services: 0, endpoints: 0, vips: 0, nodes: 0 },
    lastSync: "2026-01-01T00:00:00.000Z",
  };
  const at = Date.parse("2026-01-01T00:01:05.000Z");
  const rows: [string | null | undefined, string | null][] = [
    ["2026-01-01T00:01:00.000Z", "Received:   2026-01-01T00:01:00.000Z (5s ago)"],
    [null, "Received:   no change request since start"],
    [undefined, null], // an agent before the field: no row
  ];
  for (const [lastMessage, row] of rows) {
    const text = formatStatus(lastMessage === undefined ? base : { ...base, lastMessage }, at);
    const lines = text.split("\n");
    const updated = lines.findIndex((l) => l.startsWith("Updated:"));
    assert.equal(
      lines[updated + 1]!.startsWith("Received:") ? lines[updated + 1] : null,
      row,
      text,
    );
  }
});

Deno.test("formatStatus() warns about a tunnel certificate that expires within 14 days or has expired", () => {
  const base = { node: "n", counts: { services: 0, endpoints: 0, vips: 0, nodes: 0 } };
  const now = Date.parse("2026-01-10T00:00:00.000Z");
  const at = (iso: string) => ({ tunnel: { state: "up" as const, certificateExpiresAt: iso } });
  assert.ok(
    !formatStatus({ ...base, ...at("2026-01-25T00:00:00.000Z") }, now).includes("Warning:"),
  );
  assert.ok(
    formatStatus({ ...base, ...at("2026-01-20T00:00:00.000Z") }, now).endsWith(
      "Warning:    the tunnel TLS certificate expires at 2026-01-20T00:00:00.000Z (in 10d0h): " +
        "renew tunnelTLS.certFile (reloaded without a restart)\n",
    ),
    formatStatus({ ...base, ...at("2026-01-20T00:00:00.000Z") }, now),
  );
  assert.match(
    formatStatus({ ...base, ...at("2026-01-09T00:00:00.000Z") }, now),
    /Warning: {4}the tunnel TLS certificate expired at 2026-01-09T00:00:00.000Z \(.* ago\): peers refuse it/,
  );
});
