// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import {
  claimDevice,
  DeviceInUseError,
  OWNED_ALIAS,
  ownedAlias,
  readOwnedAlias,
} from "../../lib/netdev/mod.ts";

Deno.test("readOwnedAlias() reads the creator's pid from our alias only", async (t) => {
  const rows: [string, string | null, { pid: number | null } | null][] = [
    ["ours, with a pid", ownedAlias(1234), { pid: 1234 }],
    ["ours, from an agent that wrote no pid", OWNED_ALIAS, { pid: null }],
    ["no alias", null, null],
    ["someone else's", "operator-owned", null],
    ["our prefix with other text", `${OWNED_ALIAS} by hand`, null],
  ];
  for (const [name, alias, want] of rows) {
    await t.step(name, () => assert.deepEqual(readOwnedAlias(alias), want));
  }
});

Deno.test("claimDevice() holds a device name until released, once per name", () => {
  // A name no real agent uses: the claim lives in this process's network namespace.
  const device = `emtest${Deno.pid}`;
  const first = claimDevice(device);
  try {
    assert.throws(() => claimDevice(device), (e: unknown) => {
      assert.ok(e instanceof DeviceInUseError);
      assert.match(e.message, new RegExp(`^Cannot use device "${device}": another edgemesh agent`));
      return true;
    });
    const other = claimDevice(`${device}b`); // another device: no conflict
    other.release();
  } finally {
    first.release();
    first.release(); // idempotent
  }
  claimDevice(device).release(); // free again
});
