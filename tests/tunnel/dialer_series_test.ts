// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The tunnel's only per-peer series, `edgemesh_tunnel_peer_up{peer}`, follows the peers: peers
 * come from the config and from Node objects, and a node that leaves the snapshot takes its
 * series with it, so node churn does not grow `/metrics` (the proxy's per-service series do the
 * same, see tests/proxy/proxy_series_test.ts). The tunnel's other families have fixed labels.
 */
import assert from "node:assert/strict";
import { nullLogger } from "../../lib/log/mod.ts";
import { MetricsRegistry } from "../../lib/metrics/mod.ts";
import { TunnelDialer } from "../../lib/tunnel/mod.ts";
import { snapshotOf, TEST_KEY } from "./_fixtures.ts";

const node = (name: string, address: string) => ({
  name,
  addresses: [{ type: "InternalIP", address }],
});

Deno.test("TunnelDialer removes a peer's peer_up series when its Node leaves the snapshot", () => {
  const metrics = new MetricsRegistry();
  using dialer = Object.assign(
    new TunnelDialer({
      nodeName: "a",
      key: TEST_KEY,
      peers: { c: "127.0.0.1:1" },
      port: 1,
      log: nullLogger,
      metrics,
    }),
    { [Symbol.dispose]: () => dialer.close() },
  );
  const peers = () =>
    [...metrics.render().matchAll(/^edgemesh_tunnel_peer_up\{peer="([^"]+)"\} \d$/gm)]
      .map((m) => m[1]).sort();
  assert.deepEqual(peers(), ["c"], "a configured peer");
  for (let i = 0; i < 50; i++) {
    dialer.update(snapshotOf([], [node(`job-node-${i}`, `10.9.0.${i + 1}`)]));
  }
  assert.deepEqual(peers(), ["c", "job-node-49"], "each node's series went with the node");
  dialer.update(snapshotOf([], []));
  assert.deepEqual(peers(), ["c"], "the configured peer stays");
});
