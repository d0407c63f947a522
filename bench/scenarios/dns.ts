// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Scenario 4 of issue 7: DNS queries/s and p50/p99 latency (dnsperf, 10 clients) for service
 * names, and for forwarded names once cached, edgemesh against dnsmasq serving the same names
 * from a hosts file and forwarding to the same upstream.
 * @module
 */
import { join } from "node:path";
import { attempt, type BenchContext } from "../lib/context.ts";
import type { HostPort } from "../lib/baselines.ts";
import { resolveMany } from "../lib/net.ts";
import { RssSampler } from "../lib/rss.ts";
import { P50_MS as P50, P99_MS as P99 } from "../lib/results.ts";
import { rotate } from "../lib/stats.ts";
import { dnsperf } from "../lib/tools.ts";

/** dnsperf clients (issue 7: "dnsperf, 10 clients"). */
export const DNS_CLIENTS = 10;

/** A DNS server under test; `pid` set → its RSS is sampled while it is measured. */
export interface DnsSystem {
  readonly name: string;
  readonly server: HostPort;
  readonly pid?: number;
}

/** The names each case queries (dnsperf cycles through the file). */
export interface DnsWorkload {
  readonly serviceNames: readonly string[];
  readonly forwardedNames: readonly string[];
}

const QPS = { key: "qps", label: "queries/s", digits: 0, higherIsBetter: true } as const;

/**
 * Runs both cases. `onRss(rep, mib)` receives the peak RSS of a system with a `pid` during
 * each of its successful service-name runs.
 */
export async function runDns(
  ctx: BenchContext,
  systems: readonly DnsSystem[],
  workload: DnsWorkload,
  onRss: (rep: number, mib: number) => void,
): Promise<void> {
  const cases = [
    { id: "dns-svc", title: "service names", names: workload.serviceNames },
    { id: "dns-fwd", title: "forwarded names, cached", names: workload.forwardedNames },
  ];
  for (const c of cases) {
    ctx.results.declare({
      id: c.id,
      scenario: 4,
      title:
        `DNS, ${c.title} (dnsperf, ${DNS_CLIENTS} clients, ${ctx.seconds} s, ${c.names.length} names)`,
      reference: "dnsmasq",
      metrics: [QPS, P50, P99],
      systems: systems.map((s) => s.name),
    });
    const queryFile = join(ctx.dir, `${c.id}.queries`);
    await Deno.writeTextFile(queryFile, c.names.map((n) => `${n} A`).join("\n") + "\n");
    ctx.log(`scenario 4: ${c.id}`);
    for (const s of systems) {
      // Warm caches (forwarded names) so the case measures the cached path.
      await resolveMany({ hostname: s.server.host, port: s.server.port }, c.names, 500);
    }
    for (let rep = 0; rep < ctx.reps; rep++) {
      for (const s of rotate(systems, rep)) {
        const out = join(ctx.dir, `${c.id}-${s.name}-${rep}.dnsperf`);
        const sampler = s.pid !== undefined && c.id === "dns-svc" ? new RssSampler(s.pid) : null;
        try {
          await attempt(
            ctx,
            c.id,
            s.name,
            rep,
            () => dnsperf(s.server, queryFile, DNS_CLIENTS, ctx.seconds, out),
          );
        } finally {
          if (sampler) onRss(rep, sampler.stop());
          await Deno.remove(out).catch(() => {});
        }
      }
    }
  }
}
