// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import {
  ASSUMED_OPEN_FILES,
  fdBudget,
  listenersPerThread,
  raiseOpenFilesLimit,
} from "../../lib/sys/fd_limits.ts";
import { libc } from "../../lib/sys/libc.ts";

Deno.test("fdBudget() shares a limit out and keeps a reserve", async (t) => {
  const rows = [
    // limit, reserve, proxy, listenerFds, tunnel, metrics, dnsTcp, dnsUpstream
    [256, 64, 49, 57, 8, 4, 8, 16],
    [1024, 256, 231, 230, 20, 5, 32, 64],
    [20_000, 2000, 5484, 5400, 480, 64, 250, 64],
    [65_536, 6554, 19012, 17694, 1024, 64, 256, 64],
    [0, 0, 16, 0, 8, 4, 4, 4],
  ] as const;
  for (const [limit, reserve, proxy, listenerFds, tunnel, metrics, dnsTcp, dnsUp] of rows) {
    await t.step(`limit ${limit}`, () => {
      const b = fdBudget(limit);
      assert.deepEqual(b, {
        limit,
        reserve,
        proxyConnections: proxy,
        listenerFds,
        tunnelConnections: tunnel,
        metricsConnections: metrics,
        dnsTcpConnections: dnsTcp,
        dnsUpstreamSockets: dnsUp,
      });
      if (limit >= 256) {
        // Everything counted fits under the limit, with the reserve left over.
        const used = 2 * b.proxyConnections + b.listenerFds + 3 * b.tunnelConnections +
          3 * b.metricsConnections;
        assert.ok(used + b.reserve <= limit, `${used} + ${b.reserve} > ${limit}`);
        // DNS takes its descriptors from the reserve and leaves at least half of it for the
        // runtime (about 35 descriptors measured at start), state files and `ip`: a fixed
        // 256 DNS TCP connections at a 256 limit ran the agent into EMFILE and a Deno panic.
        const dns = b.dnsTcpConnections + b.dnsUpstreamSockets;
        assert.ok(b.reserve - dns >= b.reserve / 2, `${dns} of a reserve of ${b.reserve}`);
      }
    });
  }
});

Deno.test("listenersPerThread() divides the listener share among the threads", () => {
  const b = fdBudget(65_536);
  assert.equal(listenersPerThread(b, 1), 17694);
  assert.equal(listenersPerThread(b, 4), 4423);
  assert.equal(listenersPerThread(b, 0), 17694);
  assert.equal(listenersPerThread(fdBudget(0), 4), 1);
});

Deno.test("raiseOpenFilesLimit() reads the limit through FFI, and assumes one without", () => {
  const c = libc();
  assert.ok(c !== null, "the tests run on Linux with glibc and --allow-all");
  const got = raiseOpenFilesLimit(c);
  assert.equal(got.known, true);
  assert.ok(got.hard !== null && got.soft === got.hard, JSON.stringify(got));
  assert.ok(got.soft >= 64);
  assert.deepEqual(raiseOpenFilesLimit(null), {
    soft: ASSUMED_OPEN_FILES,
    hard: null,
    raisedFrom: null,
    known: false,
  });
});

Deno.test("raiseOpenFilesLimit() raises a soft limit below the hard one", async () => {
  // In a child under prlimit, so this process's limit is left alone.
  const code = `import { raiseOpenFilesLimit } from ${
    JSON.stringify(new URL("../../lib/sys/fd_limits.ts", import.meta.url).href)
  };
const c = (await import(${
    JSON.stringify(new URL("../../lib/sys/libc.ts", import.meta.url).href)
  })).libc();
const lim = new BigUint64Array([200n, 300n]);
c.setrlimit(7, lim);
console.log(JSON.stringify(raiseOpenFilesLimit(c)));`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", code],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), {
    soft: 300,
    hard: 300,
    raisedFrom: 200,
    known: true,
  });
});
