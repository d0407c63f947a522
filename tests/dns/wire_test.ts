// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { encodeMessage, Rcode, RRType } from "../../lib/dns/message.ts";
import { Flag, headerResponse, setClientFlags } from "../../lib/dns/wire.ts";

/** Header flags word of a message (RFC 1035 §4.1.1). */
function flags(b: Uint8Array): number {
  return (b[2]! << 8) | b[3]!;
}

Deno.test("setClientFlags() takes RD and CD from the query and sets RA, nothing else", async (t) => {
  const OTHER = 0xffff & ~(Flag.RD | Flag.CD | Flag.RA);
  // [answer flags before, query flags, RA, answer flags after]
  const cases: [string, number, number, boolean, number][] = [
    ["all clear, query RD+CD", 0, Flag.RD | Flag.CD, true, Flag.RD | Flag.CD | Flag.RA],
    ["stored RD+CD+RA, query neither", Flag.RD | Flag.CD | Flag.RA, 0, true, Flag.RA],
    ["stored RD, query CD", Flag.RD, Flag.CD, false, Flag.CD],
    ["stored CD, query RD", Flag.CD, Flag.RD, true, Flag.RD | Flag.RA],
    ["RA cleared when not available", Flag.RA, Flag.RD, false, Flag.RD],
    ["other bits of the answer kept", OTHER, 0, false, OTHER],
    ["other bits of the answer kept, all three set", OTHER, 0xffff, true, 0xffff],
    ["other bits of the query ignored", 0, OTHER, false, 0],
  ];
  for (const [name, before, query, ra, after] of cases) {
    await t.step(name, () => {
      const out = new Uint8Array([0x12, 0x34, before >> 8, before & 0xff, 0, 1]);
      const q = new Uint8Array([0xab, 0xcd, query >> 8, query & 0xff, 0, 1]);
      setClientFlags(out, q, ra);
      assert.equal(flags(out).toString(16), after.toString(16));
      assert.deepEqual([out[0], out[1], out[4], out[5]], [0x12, 0x34, 0, 1], "only flags touched");
    });
  }
});

Deno.test("headerResponse() copies ID, opcode, RD and CD and sets RA only when asked", async (t) => {
  const cases: [string, boolean, boolean, number, boolean][] = [
    ["rd cd, RA", true, true, Rcode.SERVFAIL, true],
    ["neither, no RA", false, false, Rcode.REFUSED, false],
    ["cd only, RA", false, true, Rcode.FORMERR, true],
    ["rd only, BADVERS with RA", true, false, Rcode.BADVERS, true],
  ];
  for (const [name, rd, cd, rcode, ra] of cases) {
    await t.step(name, () => {
      const q = encodeMessage({
        id: 0xbeef,
        opcode: 0,
        recursionDesired: rd,
        checkingDisabled: cd,
        questions: [{ name: "a.example", type: RRType.A, class: 1 }],
      });
      const r = headerResponse(q, rcode, {
        questionEnd: q.length,
        recursionAvailable: ra,
        edns: { dnssecOk: false },
      });
      assert.deepEqual([r[0], r[1]], [0xbe, 0xef]);
      const f = flags(r);
      assert.equal((f & Flag.QR) !== 0, true);
      assert.equal((f & Flag.RD) !== 0, rd);
      assert.equal((f & Flag.CD) !== 0, cd);
      assert.equal((f & Flag.RA) !== 0, ra);
      assert.equal(f & 0xf, rcode & 0xf);
      assert.equal(r[q.length + 5], rcode >> 4, "extended RCODE in our OPT");
    });
  }
});
