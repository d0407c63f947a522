// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { bindAdvice, bindError, withBindAdvice } from "../../lib/netaddr/mod.ts";
import { dnsBindError } from "../../lib/agent/dns_bind.ts";

const IN_USE = new Deno.errors.AddrInUse("Address already in use (os error 98)");
/** The DNS server's batched socket (FFI) fails with a plain Error naming only the errno. */
const FFI_IN_USE = new Error(
  'Cannot listen for DNS on "9.251.0.1:53": bind(): Address in use (os error 98)',
);
const NOT_MINE = new Deno.errors.AddrNotAvailable("Cannot assign requested address (os error 99)");

Deno.test("bindAdvice names the holder's command and the key, or the missing address", () => {
  const rows: readonly { err: unknown; listen: string; want: RegExp | "" }[] = [
    {
      err: IN_USE,
      listen: "0.0.0.0:9560",
      want:
        /^: another program already listens on port 9560 \(ss -ltnup 'sport = :9560' names it\); stop it or set metricsListen to a free address or port$/,
    },
    { err: FFI_IN_USE, listen: "9.251.0.1:53", want: /port 53 .*set metricsListen/ },
    {
      err: new Error("wrapped", { cause: IN_USE }),
      listen: "[::1]:9560",
      want: /port 9560 /,
    },
    {
      err: NOT_MINE,
      listen: "10.9.0.2:40001",
      want:
        /^: 10\.9\.0\.2 is not an address of this node \(yet\): set metricsListen to one of its addresses, or 0\.0\.0\.0$/,
    },
    {
      err: new Deno.errors.PermissionDenied("Permission denied (os error 13)"),
      listen: "a:1",
      want: "",
    },
    { err: "not an error", listen: "a:1", want: "" },
  ];
  for (const { err, listen, want } of rows) {
    const got = bindAdvice(listen, err, { key: "metricsListen" });
    if (want === "") assert.equal(got, "", String(err));
    else assert.match(got, want, String(err));
  }
});

Deno.test("bindError keeps the class and cause and adds the advice only with a target", () => {
  const plain = bindError("metrics", "0.0.0.0:9560", IN_USE);
  assert.ok(plain instanceof Deno.errors.AddrInUse);
  assert.equal(plain.cause, IN_USE);
  assert.equal(
    plain.message,
    'Cannot listen for metrics on "0.0.0.0:9560": Address already in use (os error 98)',
  );
  const advised = bindError("metrics", "0.0.0.0:9560", IN_USE, {
    key: "metricsListen",
    usualHolder: "often X",
  });
  assert.ok(advised instanceof Deno.errors.AddrInUse);
  assert.match(
    advised.message,
    /\(os error 98\): another program .* names it\), often X; stop it or set metricsListen /,
  );
  assert.equal(withBindAdvice("x", "a:1", undefined).message, "x");
});

Deno.test("dnsBindError: port 53 held by a resolver names dnsmasq's way out and dnsListen", () => {
  const listen = ["127.0.0.1:5353", "9.251.0.1:53"];
  const err = dnsBindError(FFI_IN_USE, listen, "edge0");
  assert.ok(err instanceof Error);
  assert.ok(err.message.startsWith(FFI_IN_USE.message), "the DNS server's text is kept");
  assert.match(err.message, /port 53 \(ss -ltnup 'sport = :53' names it\), often dnsmasq/);
  assert.match(err.message, /bind-dynamic and except-interface=edge0\); stop it or set dnsListen /);
  assert.equal(err.cause, FFI_IN_USE);
  // Not a bind failure (a stop during start, a bad address): the same error, untouched.
  const stop = new DOMException("stopping", "AbortError");
  assert.equal(dnsBindError(stop, listen, "edge0"), stop);
});
