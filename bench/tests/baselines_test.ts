// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { dnsmasqArgs, haproxyConfig, hostsFile, nginxStreamConfig } from "../lib/baselines.ts";
import { parseStatusMiB } from "../lib/rss.ts";
import { endpointsObject, serviceChanges, serviceFqdn } from "../lib/k8s.ts";

const FORWARD = {
  name: "http",
  listen: { host: "10.201.0.3", port: 8080 },
  backend: { host: "10.201.0.2", port: 8080 },
};

Deno.test("haproxyConfig() is TCP mode with splice both ways and one frontend per forward", () => {
  const cfg = haproxyConfig([FORWARD]);
  for (
    const line of [
      "mode tcp",
      "option splice-request",
      "option splice-response",
      "bind 10.201.0.3:8080",
      "server s1 10.201.0.2:8080",
    ]
  ) {
    assert.ok(cfg.includes(line), line);
  }
});

Deno.test("nginxStreamConfig() loads the stream module and proxies each forward", () => {
  const cfg = nginxStreamConfig("/tmp/x", [FORWARD]);
  assert.match(cfg, /^load_module \/usr\/lib\/nginx\/modules\/ngx_stream_module\.so;/);
  assert.match(cfg, /listen 10\.201\.0\.3:8080 reuseport; proxy_pass 10\.201\.0\.2:8080;/);
});

Deno.test("dnsmasqArgs() reads no system files and forwards only when asked", () => {
  const args = dnsmasqArgs("10.201.0.5", "/tmp/h", { localTtl: 5 });
  assert.ok(
    args.includes("--no-resolv") && args.includes("--no-hosts") &&
      args.includes("--conf-file=/dev/null"),
  );
  assert.ok(!args.some((a) => a.startsWith("--server=")));
  assert.ok(
    dnsmasqArgs("10.201.0.5", "/tmp/h", { localTtl: 5, server: "10.201.0.6" }).includes(
      "--server=10.201.0.6",
    ),
  );
  assert.equal(hostsFile(new Map([["a.b", "9.251.0.2"]])), "9.251.0.2 a.b\n");
});

Deno.test("serviceChanges() inserts the Service before its Endpoints", () => {
  const svc = {
    namespace: "bench",
    name: "http",
    ports: [{ name: "http", port: 80, targetPort: 8080 }],
    endpoints: [{ ip: "10.203.0.2", nodeName: "bench-b" }],
  };
  const [s, e] = serviceChanges(svc);
  assert.equal(s?.resource, "bench/service/http");
  assert.equal(e?.resource, "bench/endpoints/http");
  assert.deepEqual(endpointsObject(svc).subsets, [{
    addresses: [{ ip: "10.203.0.2", nodeName: "bench-b" }],
    ports: [{ name: "http", port: 8080, protocol: "TCP" }],
  }]);
  assert.equal(serviceFqdn(svc), "http.bench.svc.cluster.local");
});

Deno.test("parseStatusMiB() reads VmRSS, VmHWM and the parts of VmRSS in MiB", () => {
  const status = "Name:\tdeno\nVmHWM:\t   65536 kB\nVmRSS:\t   51200 kB\n" +
    "RssAnon:\t   10240 kB\nRssFile:\t   40448 kB\nRssShmem:\t     512 kB\n";
  assert.equal(parseStatusMiB(status, "VmRSS"), 50);
  assert.equal(parseStatusMiB(status, "VmHWM"), 64);
  assert.equal(parseStatusMiB(status, "RssAnon"), 10);
  assert.equal(parseStatusMiB(status, "RssFile"), 39.5);
  assert.equal(parseStatusMiB(status, "RssShmem"), 0.5);
  assert.equal(parseStatusMiB("Name:\tx\n", "VmRSS"), null);
});
