// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The advice after the DNS server could not bind `dnsListen`. Gateways and OpenWrt boxes run
 * dnsmasq (or another resolver) on `0.0.0.0:53`, which holds port 53 of every address, the
 * agent's too: the start failed with only `Cannot listen for DNS on "9.251.0.1:53": bind():
 * Address in use (os error 98)`, naming neither the holder nor the way out. The DNS server's own text is kept; the advice goes after it.
 * @module
 */
import { bindAdvice, type BindTarget, withBindAdvice } from "../netaddr/mod.ts";

/** Who holds port 53 on an edge box, and how to make room without giving up its resolver. */
function dnsTarget(device: string): BindTarget {
  return {
    key: "dnsListen",
    usualHolder: "often dnsmasq or another resolver bound to 0.0.0.0:53, which holds port 53 " +
      "of every address of the node: have it bind only its own interfaces " +
      `(dnsmasq: bind-dynamic and except-interface=${device})`,
  };
}

/**
 * `err` from starting the DNS server with {@linkcode withBindAdvice} for the `dnsListen` entry
 * its message names (the first one when it names none), keeping its text, class and cause; any
 * other failure (a stop during start, a bad address) is returned as it is.
 */
export function dnsBindError(err: unknown, dnsListen: readonly string[], device: string): unknown {
  const text = err instanceof Error ? err.message : String(err);
  const listen = dnsListen.find((l) => text.includes(`"${l}"`)) ?? dnsListen[0] ?? "";
  const target = dnsTarget(device);
  return bindAdvice(listen, err, target) === "" ? err : withBindAdvice(err, listen, target);
}
