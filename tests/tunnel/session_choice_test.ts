// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/** Which HTTP/2 session of a peer a new tunnel stream goes to (`lib/tunnel/session_choice.ts`). */
import assert from "node:assert/strict";
import {
  ASSUMED_STREAM_LIMIT,
  chooseSession,
  type SessionChoice,
  sessionLimit,
  type SessionLoad,
  sessionRoom,
} from "../../lib/tunnel/mod.ts";

Deno.test("chooseSession() packs onto the oldest session with room, else opens one, up to maxSessions", async (t) => {
  const rows: {
    name: string;
    sessions: SessionLoad[];
    max: number;
    want: SessionChoice;
  }[] = [
    { name: "no session yet", sessions: [], max: 4, want: { kind: "open" } },
    {
      name: "the first has room",
      sessions: [{ open: 5, limit: 200 }, { open: 0, limit: 200 }],
      max: 4,
      want: { kind: "use", index: 0 },
    },
    {
      name: "199 of 200 is full: one stream stays free for the heartbeat",
      sessions: [{ open: 199, limit: 200 }, { open: 10, limit: 200 }],
      max: 4,
      want: { kind: "use", index: 1 },
    },
    {
      name: "198 of 200 still takes one",
      sessions: [{ open: 198, limit: 200 }],
      max: 4,
      want: { kind: "use", index: 0 },
    },
    {
      name: "all at the limit: a new session",
      sessions: [{ open: 199, limit: 200 }, { open: 199, limit: 200 }],
      max: 4,
      want: { kind: "open" },
    },
    {
      name: "all at the limit and maxSessions of them: full",
      sessions: [{ open: 199, limit: 200 }, { open: 200, limit: 200 }],
      max: 2,
      want: { kind: "full", sessions: 2, open: 399 },
    },
    {
      name: "a limit not known yet counts as 100",
      sessions: [{ open: 98, limit: null }],
      max: 4,
      want: { kind: "use", index: 0 },
    },
    {
      name: "at the assumed limit: wait for the peer's SETTINGS rather than open another",
      sessions: [{ open: 99, limit: null }],
      max: 4,
      want: { kind: "wait" },
    },
    {
      name: "at the assumed limit with maxSessions: wait too (the SETTINGS may allow more)",
      sessions: [{ open: 199, limit: 200 }, { open: 99, limit: null }],
      max: 2,
      want: { kind: "wait" },
    },
    {
      name: "a peer that allows one stream per session keeps no reserve",
      sessions: [{ open: 1, limit: 1 }, { open: 0, limit: 1 }],
      max: 4,
      want: { kind: "use", index: 1 },
    },
    {
      name: "a small cap (tests): 2 streams per session of 3",
      sessions: [{ open: 2, limit: 3 }, { open: 1, limit: 3 }],
      max: 4,
      want: { kind: "use", index: 1 },
    },
  ];
  for (const row of rows) {
    await t.step(row.name, () => {
      assert.deepEqual(chooseSession(row.sessions, row.max), row.want);
    });
  }
});

Deno.test("chooseSession() refuses a maxSessions that is not a positive integer", () => {
  for (const max of [0, -1, 1.5, Number.NaN]) {
    assert.throws(() => chooseSession([], max), RangeError);
  }
});

Deno.test("sessionRoom() and sessionLimit() keep one stream for the heartbeat and cap the limit", async (t) => {
  await t.step("room", () => {
    const rows: [SessionLoad, number][] = [
      [{ open: 0, limit: 200 }, 199],
      [{ open: 199, limit: 200 }, 0],
      [{ open: 250, limit: 200 }, 0],
      [{ open: 0, limit: null }, ASSUMED_STREAM_LIMIT - 1],
      [{ open: 0, limit: 1 }, 1],
    ];
    for (const [load, room] of rows) assert.equal(sessionRoom(load), room, JSON.stringify(load));
  });
  await t.step("limit", () => {
    const rows: [number | null, number | null, number | null][] = [
      [200, null, 200],
      [null, null, null],
      [200, 3, 3],
      [2, 3, 2],
      [null, 3, 3],
      [null, 500, ASSUMED_STREAM_LIMIT],
    ];
    for (const [peer, cap, want] of rows) assert.equal(sessionLimit(peer, cap), want);
  });
});
