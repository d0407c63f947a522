// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Child process of `dns_qps.ts`: a {@linkcode DnsServer} alone (no other agent component)
 * serving `svc-<i>.dns.svc.cluster.local` for `--services` services and forwarding the rest
 * to `--upstream`. Started with the agent's production permission flags; prints
 * `ready <port>` on stdout and serves until SIGTERM.
 *
 * `deno run <permissionFlags> bench/micro/dns_server.ts --listen 127.0.0.1:0 --upstream H:P`
 * @module
 */
import { parseArgs } from "node:util";
import v8 from "node:v8";
import { DnsServer } from "../../lib/dns/mod.ts";
import { libc, Reactor } from "../../lib/sys/mod.ts";
import type { ServiceEntry, Snapshot } from "../../lib/registry/model.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    listen: { type: "string", default: "127.0.0.1:0" },
    upstream: { type: "string" },
    services: { type: "string", default: "100" },
    loops: { type: "string" },
    "memory-every": { type: "string" },
  },
  strict: true,
});

const services = new Map<string, ServiceEntry>();
const vips = new Map<string, string>();
for (let i = 0; i < Number(values.services); i++) {
  const vip = `9.251.${1 + (i >> 8)}.${i & 0xff}`;
  services.set(`dns/svc-${i}`, {
    service: {
      namespace: "dns",
      name: `svc-${i}`,
      kind: { type: "ClusterIP" },
      ports: [{
        name: "http",
        protocol: "TCP",
        port: 80,
        targetPort: { kind: "number", port: 80 },
      }],
      sessionAffinity: { type: "None" },
    },
    vip,
    endpoints: [],
    endpointSource: "none",
  });
  vips.set(vip, `dns/svc-${i}`);
}
const snapshot: Snapshot = { version: 1, services, nodes: new Map(), vips };

const abort = new AbortController();
Deno.addSignalListener("SIGTERM", () => abort.abort());
// As in the agent: batched sockets wait on the thread's epoll loop when FFI is allowed.
const c = libc();
const reactor = c === null ? null : Reactor.open(c);
const server = await DnsServer.start({
  ...(reactor === null ? {} : { reactor }),
  listen: [values.listen],
  upstreams: values.upstream ? [values.upstream] : [],
  snapshot,
  udpLoops: values.loops === undefined ? undefined : Number(values.loops),
  signal: abort.signal,
});
// deno-lint-ignore no-console
console.log(`ready ${server.addresses[0]!.port}`);
if (values["memory-every"] !== undefined) {
  const timer = setInterval(() => {
    const m = Deno.memoryUsage();
    const mib = (n: number) => (n / 1048576).toFixed(1);
    // deno-lint-ignore no-console
    console.log(
      `memory rss ${mib(m.rss)} heapTotal ${mib(m.heapTotal)} heapUsed ${mib(m.heapUsed)} ` +
        `external ${mib(m.external)} MiB; ` +
        v8.getHeapSpaceStatistics().filter((x) => x.space_size > 0).map((x) =>
          `${x.space_name} ${mib(x.space_size)}`
        ).join(" "),
    );
  }, Number(values["memory-every"]));
  abort.signal.addEventListener("abort", () => clearInterval(timer), { once: true });
}
await new Promise((resolve) => abort.signal.addEventListener("abort", resolve, { once: true }));
await server.close();
await reactor?.close();
Deno.exit(0);
