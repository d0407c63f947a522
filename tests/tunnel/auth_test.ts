// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import {
  constantTimeEqual,
  importTunnelKey,
  loadTunnelKey,
  RequestVerifier,
  signRequest,
  type StreamHeaders,
  TunnelSetupError,
} from "../../lib/tunnel/mod.ts";
import { TEST_KEY } from "./_fixtures.ts";

const TARGET = {
  source: "node-a",
  service: "default/echo",
  port: "80",
  endpoint: "10.1.2.3:8080",
} as const;

const T0 = 1_760_000_000_000;

Deno.test("RequestVerifier.verify() checks key, time, nonce and every signed field", async (t) => {
  const key = await importTunnelKey(TEST_KEY);
  const otherKey = await importTunnelKey(new Uint8Array(32).fill(7));
  let now = T0;
  const fresh = () => new RequestVerifier({ key, now: () => now, windowMs: 60_000 });

  const cases: {
    name: string;
    make: () => Promise<StreamHeaders>;
    at?: number;
    want: string;
  }[] = [
    { name: "good request", make: () => signRequest(key, TARGET, T0), want: "ok" },
    {
      name: "wrong key",
      make: () => signRequest(otherKey, TARGET, T0),
      want: "bad-signature",
    },
    {
      name: "stale timestamp",
      make: () => signRequest(key, TARGET, T0 - 61_000),
      want: "stale",
    },
    {
      name: "timestamp from the future",
      make: () => signRequest(key, TARGET, T0 + 61_000),
      want: "stale",
    },
    {
      name: "within the window",
      make: () => signRequest(key, TARGET, T0 - 59_000),
      want: "ok",
    },
    {
      name: "tampered endpoint",
      make: async () => ({ ...(await signRequest(key, TARGET, T0)), endpoint: "10.9.9.9:22" }),
      want: "bad-signature",
    },
    {
      name: "tampered service",
      make: async () => ({ ...(await signRequest(key, TARGET, T0)), service: "kube-system/x" }),
      want: "bad-signature",
    },
    {
      name: "tampered port",
      make: async () => ({ ...(await signRequest(key, TARGET, T0)), port: "81" }),
      want: "bad-signature",
    },
    {
      name: "tampered source node",
      make: async () => ({ ...(await signRequest(key, TARGET, T0)), source: "node-evil" }),
      want: "bad-signature",
    },
    {
      name: "tampered timestamp",
      make: async () => ({ ...(await signRequest(key, TARGET, T0)), timestamp: String(T0 + 1) }),
      want: "bad-signature",
    },
    {
      name: "signature not hex",
      make: async () => ({ ...(await signRequest(key, TARGET, T0)), signature: "zz" }),
      want: "malformed",
    },
    {
      name: "truncated signature",
      make: async () => {
        const s = await signRequest(key, TARGET, T0);
        return { ...s, signature: s.signature.slice(0, 32) };
      },
      want: "bad-signature",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      now = c.at ?? T0;
      const r = await fresh().verify(await c.make());
      assert.equal(r.ok ? "ok" : r.failure, c.want);
    });
  }

  await t.step("replayed nonce is refused within the window", async () => {
    now = T0;
    const v = fresh();
    const req = await signRequest(key, TARGET, T0);
    assert.deepEqual(await v.verify(req), { ok: true });
    now = T0 + 30_000;
    assert.deepEqual(await v.verify(req), { ok: false, failure: "replayed" });
    // Once the timestamp is out of the window the request is stale anyway, and the nonce is
    // forgotten after two windows.
    now = T0 + 61_000;
    assert.deepEqual(await v.verify(req), { ok: false, failure: "stale" });
    now = T0 + 121_000;
    assert.deepEqual(await v.verify(await signRequest(key, TARGET, now)), { ok: true });
    assert.equal(v.cachedNonces, 1);
  });

  await t.step("a failed MAC does not burn the nonce", async () => {
    now = T0;
    const v = fresh();
    const req = await signRequest(key, TARGET, T0);
    assert.equal((await v.verify({ ...req, port: "81" })).ok, false);
    assert.deepEqual(await v.verify(req), { ok: true });
  });

  await t.step("a full nonce cache refuses instead of forgetting", async () => {
    now = T0;
    const v = new RequestVerifier({ key, now: () => now, maxNonces: 2 });
    assert.equal((await v.verify(await signRequest(key, TARGET, T0))).ok, true);
    assert.equal((await v.verify(await signRequest(key, TARGET, T0))).ok, true);
    assert.deepEqual(await v.verify(await signRequest(key, TARGET, T0)), {
      ok: false,
      failure: "cache-full",
    });
  });
});

Deno.test("constantTimeEqual() compares bytes and lengths", () => {
  assert.equal(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2])), true);
  assert.equal(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3])), false);
  assert.equal(constantTimeEqual(new Uint8Array([1]), new Uint8Array([1, 2])), false);
});

Deno.test("loadTunnelKey() refuses missing, unreadable and short key files", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "em-tunnel-key-" });
  try {
    await t.step("missing", async () => {
      await assert.rejects(loadTunnelKey(`${dir}/nope`), (err: Error) => {
        assert.ok(err instanceof TunnelSetupError);
        assert.equal(
          err.message,
          `Cannot load tunnel key "${dir}/nope" (tunnelKeyFile): file does not exist`,
        );
        return true;
      });
    });
    await t.step("a directory", async () => {
      await assert.rejects(loadTunnelKey(dir), TunnelSetupError);
    });
    await t.step("short", async () => {
      await Deno.writeFile(`${dir}/short`, new Uint8Array(31));
      await assert.rejects(loadTunnelKey(`${dir}/short`), (err: Error) => {
        assert.ok(err instanceof TunnelSetupError);
        assert.match(err.message, /has 31 bytes, at least 32 are required$/);
        return true;
      });
    });
    await t.step("32 bytes is enough", async () => {
      await Deno.writeFile(`${dir}/good`, new Uint8Array(32).fill(1));
      assert.equal((await loadTunnelKey(`${dir}/good`)).length, 32);
    });
    await t.step("importTunnelKey() rejects short raw keys", async () => {
      await assert.rejects(importTunnelKey(new Uint8Array(8)), RangeError);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("RequestVerifier gives each source its own share of the nonce cache", async (t) => {
  const key = await importTunnelKey(TEST_KEY);
  const now = T0;
  const sign = () => signRequest(key, TARGET, now);
  /** Each row: the source, then what its next request gets; all rows share one verifier. */
  const rows: [string, string][] = [
    ["10.0.0.1", "ok"],
    ["10.0.0.1", "ok"],
    ["10.0.0.1", "ok"],
    // The flooder has its share (3): refused as rate-limited, not as a bad key.
    ["10.0.0.1", "rate-limited"],
    ["10.0.0.1", "rate-limited"],
    // Another source is served as if nothing happened.
    ["10.0.0.2", "ok"],
    ["10.0.0.2", "ok"],
    ["10.0.0.2", "ok"],
    ["10.0.0.2", "rate-limited"],
    ["10.0.0.3", "ok"],
    ["10.0.0.3", "ok"],
    // 8 of 8 held: only now is the cache full, for sources under their share too.
    ["10.0.0.4", "cache-full"],
    ["10.0.0.3", "cache-full"],
    ["10.0.0.1", "rate-limited"],
  ];
  const v = new RequestVerifier({ key, now: () => now, maxNonces: 8, maxNoncesPerSource: 3 });
  for (const [i, [source, want]] of rows.entries()) {
    await t.step(`#${i} from ${source}: ${want}`, async () => {
      const r = await v.verify(await sign(), source);
      assert.equal(r.ok ? "ok" : r.failure, want);
    });
  }
  await t.step("counts per source", () => {
    assert.deepEqual(
      ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"].map((s) => v.cachedNoncesOf(s)),
      [3, 3, 2, 0],
    );
    assert.equal(v.cachedNonces, 8);
  });
});

Deno.test("RequestVerifier forgets a nonce once its timestamp leaves the window", async (t) => {
  const key = await importTunnelKey(TEST_KEY);
  /**
   * Each row: the request's timestamp (relative to T0, when it is verified), a later time, and
   * whether its nonce is still remembered then (a replay is `replayed`) or not (`stale`: the
   * timestamp check refuses it, so remembering it would be useless).
   */
  const rows: { ts: number; later: number; want: "replayed" | "stale" }[] = [
    { ts: 0, later: 59_999, want: "replayed" },
    { ts: 0, later: 60_000, want: "replayed" },
    { ts: 0, later: 61_000, want: "stale" },
    { ts: -59_000, later: 1_000, want: "replayed" },
    { ts: -59_000, later: 2_000, want: "stale" },
    // A timestamp from the far edge of the future: kept for two windows, never longer.
    { ts: 60_000, later: 120_000, want: "replayed" },
    { ts: 60_000, later: 121_000, want: "stale" },
  ];
  for (const r of rows) {
    await t.step(`timestamp T0${r.ts >= 0 ? "+" : ""}${r.ts}, at T0+${r.later}`, async () => {
      let now = T0;
      const v = new RequestVerifier({ key, now: () => now, windowMs: 60_000 });
      const req = await signRequest(key, TARGET, T0 + r.ts);
      assert.deepEqual(await v.verify(req, "10.0.0.1"), { ok: true });
      now = T0 + r.later;
      assert.deepEqual(await v.verify(req, "10.0.0.1"), { ok: false, failure: r.want });
      // Any verification drops what expired: the nonce is in the cache exactly while needed.
      assert.equal(v.cachedNonces, r.want === "replayed" ? 1 : 0);
      assert.equal(v.cachedNoncesOf("10.0.0.1"), v.cachedNonces);
    });
  }
});

Deno.test("RequestVerifier: a rate-limited source is served again as its nonces expire", async (t) => {
  const key = await importTunnelKey(TEST_KEY);
  let now = T0;
  const v = new RequestVerifier({ key, now: () => now, maxNoncesPerSource: 2 });
  const rows: { at: number; want: string; held: number }[] = [
    { at: 0, want: "ok", held: 1 },
    { at: 30_000, want: "ok", held: 2 },
    { at: 40_000, want: "rate-limited", held: 2 },
    // The first nonce (timestamp T0) expired after T0+60 s: one slot free again.
    { at: 61_000, want: "ok", held: 2 },
    { at: 62_000, want: "rate-limited", held: 2 },
    // Long idle (an hour): every bucket is dropped without walking each second.
    { at: 3_600_000, want: "ok", held: 1 },
  ];
  for (const r of rows) {
    await t.step(`T0+${r.at}: ${r.want}`, async () => {
      now = T0 + r.at;
      const got = await v.verify(await signRequest(key, TARGET, now), "10.0.0.9");
      assert.equal(got.ok ? "ok" : got.failure, r.want);
      assert.equal(v.cachedNoncesOf("10.0.0.9"), r.held);
    });
  }
  await t.step("a nonce replayed from another address is still a replay", async () => {
    const req = await signRequest(key, TARGET, now);
    assert.deepEqual(await v.verify(req, "10.0.0.8"), { ok: true });
    assert.deepEqual(await v.verify(req, "10.0.0.7"), { ok: false, failure: "replayed" });
  });
  await t.step("a clock that went back keeps nonces longer, and still drops them", async () => {
    const start = now;
    assert.deepEqual(await v.verify(await signRequest(key, TARGET, now), "10.0.0.6"), {
      ok: true,
    });
    now = start - 90_000; // its nonce would expire before what was dropped already
    const back = await signRequest(key, TARGET, now);
    assert.deepEqual(await v.verify(back, "10.0.0.6"), { ok: true });
    assert.deepEqual(await v.verify(back, "10.0.0.6"), { ok: false, failure: "replayed" });
    assert.equal(v.cachedNoncesOf("10.0.0.6"), 2);
    now = start + 62_000;
    assert.deepEqual(await v.verify(await signRequest(key, TARGET, now), "10.0.0.6"), {
      ok: true,
    });
    assert.equal(v.cachedNoncesOf("10.0.0.6"), 1, "both earlier nonces dropped, none leaked");
  });
});
