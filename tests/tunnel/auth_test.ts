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
