// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import {
  parseDnsperfSummary,
  parseDnsperfVerboseLine,
  parseIperf3,
  parseWrk,
  parseWrkDuration,
  sumMetric,
} from "../lib/parse.ts";

/** Captured from `wrk -t2 -c50 -d1s --latency -H "Connection: close"` (wrk 4.1.0). */
const WRK_OK = `Running 1s test @ http://127.0.0.1:8080/
  2 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.86ms    4.99ms  53.69ms   96.21%
    Req/Sec    20.18k     7.54k   33.22k    52.38%
  Latency Distribution
     50%  727.00us
     75%    1.33ms
     90%    2.82ms
     99%   30.22ms
  42478 requests in 1.11s, 5.87MB read
Requests/sec:  38362.44
Transfer/sec:      5.30MB
`;

Deno.test("parseWrkDuration() converts wrk units to milliseconds", async (t) => {
  const cases: [string, number][] = [["727.00us", 0.727], ["1.33ms", 1.33], ["2.00s", 2000], [
    "1.50m",
    90000,
  ]];
  for (const [text, want] of cases) {
    await t.step(text, () => assert.ok(Math.abs(parseWrkDuration(text) - want) < 1e-9));
  }
  await t.step("garbage", () => assert.throws(() => parseWrkDuration("fast"), SyntaxError));
});

Deno.test("parseWrk() reads rate, percentiles and errors", async (t) => {
  await t.step("clean run", () => {
    const r = parseWrk(WRK_OK);
    assert.equal(r.requestsPerSec, 38362.44);
    assert.equal(r.requests, 42478);
    assert.ok(Math.abs(r.p50Ms - 0.727) < 1e-9);
    assert.equal(r.p99Ms, 30.22);
    assert.equal(r.socketErrors, 0);
    assert.equal(r.non2xx, 0);
  });
  await t.step("socket errors and non-2xx are summed", () => {
    const text = WRK_OK.replace(
      "Requests/sec:",
      "  Socket errors: connect 1, read 2, write 3, timeout 4\n  Non-2xx or 3xx responses: 7\nRequests/sec:",
    );
    const r = parseWrk(text);
    assert.equal(r.socketErrors, 10);
    assert.equal(r.non2xx, 7);
  });
  await t.step("connection refused output", () => {
    assert.throws(
      () => parseWrk("unable to connect to 127.0.0.1:8081 Connection refused\n"),
      /Requests\/sec/,
    );
  });
  await t.step("without --latency", () => {
    const text = WRK_OK.replace(/ {2}Latency Distribution[\s\S]*?99%\s+\S+\n/, "");
    assert.throws(() => parseWrk(text), /--latency/);
  });
});

Deno.test("parseIperf3() reads receiver throughput from -J output", async (t) => {
  await t.step("two streams", () => {
    const json = JSON.stringify({
      start: { test_start: { num_streams: 2 } },
      end: {
        sum_sent: { bits_per_second: 14.5e9, retransmits: 31 },
        sum_received: { bits_per_second: 14347874164.942093 },
      },
    });
    assert.deepEqual(parseIperf3(json), {
      bitsPerSecond: 14347874164.942093,
      streams: 2,
      retransmits: 31,
    });
  });
  await t.step("iperf3 error", () => {
    const json =
      '{"start":{"connected":[]},"intervals":[],"end":{},"error":"unable to connect to server: Connection refused"}';
    assert.throws(() => parseIperf3(json), /Connection refused/);
  });
  await t.step("not JSON", () => assert.throws(() => parseIperf3(""), SyntaxError));
  await t.step("missing sum", () => assert.throws(() => parseIperf3('{"end":{}}'), /sum_received/));
});

/** dnsperf 2.10.0 statistics block. */
const DNSPERF = `DNS Performance Testing Tool
Version 2.10.0

[Status] Testing complete (time limit)

Statistics:

  Queries sent:         415005
  Queries completed:    415005 (100.00%)
  Queries lost:         0 (0.00%)

  Response codes:       NOERROR 415000 (99.99%), NXDOMAIN 5 (0.00%)
  Average packet size:  request 47, response 63
  Run time (s):         3.000453
  Queries per second:   138314.114569

  Average Latency (s):  0.000589 (min 0.000017, max 0.006519)
  Latency StdDev (s):   0.000280
`;

Deno.test("parseDnsperfSummary() reads rate, losses and response codes", () => {
  const s = parseDnsperfSummary(DNSPERF);
  assert.equal(s.queriesSent, 415005);
  assert.equal(s.queriesCompleted, 415005);
  assert.equal(s.queriesLost, 0);
  assert.equal(s.queriesPerSecond, 138314.114569);
  assert.ok(Math.abs(s.avgLatencyMs - 0.589) < 1e-9);
  assert.deepEqual(s.rcodes, { NOERROR: 415000, NXDOMAIN: 5 });
  assert.throws(() => parseDnsperfSummary("Error: could not open file\n"), SyntaxError);
});

Deno.test("parseDnsperfVerboseLine() reads per-query lines and skips the rest", async (t) => {
  await t.step("answer", () => {
    const q = parseDnsperfVerboseLine("> NOERROR svc-1.bench.svc.cluster.local A 0.000357");
    assert.equal(q?.rcode, "NOERROR");
    assert.ok(Math.abs((q?.latencyMs ?? 0) - 0.357) < 1e-9);
  });
  await t.step(
    "status line",
    () => assert.equal(parseDnsperfVerboseLine("[Status] Sending queries"), null),
  );
  await t.step(
    "timeout without latency",
    () => assert.equal(parseDnsperfVerboseLine("> T svc-1 A"), null),
  );
  await t.step("empty", () => assert.equal(parseDnsperfVerboseLine(""), null));
});

Deno.test("sumMetric() sums the samples of a family that carry the given labels", async (t) => {
  const text = [
    "# HELP edgemesh_tunnel_streams_total Tunnel streams.",
    "# TYPE edgemesh_tunnel_streams_total counter",
    'edgemesh_tunnel_streams_total{direction="out",result="ok"} 120',
    'edgemesh_tunnel_streams_total{direction="out",result="refused"} 3',
    'edgemesh_tunnel_streams_total{direction="in",result="ok"} 7',
    "edgemesh_tunnel_streams_total_other 99",
    "",
  ].join("\n");
  await t.step("all", () => assert.equal(sumMetric(text, "edgemesh_tunnel_streams_total"), 130));
  await t.step(
    "by label",
    () => assert.equal(sumMetric(text, "edgemesh_tunnel_streams_total", { direction: "out" }), 123),
  );
  await t.step("two labels", () => {
    assert.equal(
      sumMetric(text, "edgemesh_tunnel_streams_total", { direction: "out", result: "ok" }),
      120,
    );
  });
  await t.step("absent", () => assert.equal(sumMetric(text, "nope"), 0));
});
