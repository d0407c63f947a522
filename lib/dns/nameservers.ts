// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Nameserver addresses as written: an upstream's `host[:port]` ({@linkcode parseHostPort}), the
 * `nameserver` lines of a resolv.conf ({@linkcode parseResolvConf},
 * {@linkcode upstreamsFromResolvConf}) and what makes one unusable
 * ({@linkcode nameserverProblem}). Pure: which of them the server uses is `upstreams.ts`.
 * @module
 */
import { isHostPort, parseIp, readHostPort, specialIpKind } from "../netaddr/mod.ts";
import { sameHost } from "./udp_pool.ts";

/** An upstream resolver address. */
export interface Upstream {
  readonly hostname: string;
  readonly port: number;
}

/**
 * Parses `host`, `host:port`, `[v6]:port` or a bare IPv6 address, as in resolv.conf
 * `nameserver` lines (port 53 by default, zone indices such as `fe80::1%eth0` kept).
 * @throws {TypeError} when the text is not an address
 */
export function parseHostPort(text: string, defaultPort = 53): Upstream {
  const hp = readHostPort(text.trim(), { defaultPort, minPort: 0, bareIpv6: true, zone: true });
  if (isHostPort(hp)) return { hostname: hp.host, port: hp.port };
  const why = hp.kind === "portSyntax"
    ? "bad port"
    : hp.kind === "portRange"
    ? `port ${hp.value} is out of range`
    : "bad host";
  throw new TypeError(`Cannot parse address "${text}": ${why}`);
}

/**
 * The `nameserver` addresses of a resolv.conf (resolv.conf(5)), in order. Comments (`#`, `;`)
 * and other options are ignored.
 */
export function parseResolvConf(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/[#;].*$/, "").trim();
    const m = /^nameserver\s+(\S+)$/.exec(line);
    if (m) out.push(m[1]!);
  }
  return out;
}

/** A nameserver address the forwarder cannot use as written, and why. */
export interface NameserverProblem {
  /** The address as written (resolv.conf `nameserver` value or config `upstreams` host). */
  readonly nameserver: string;
  /** What is wrong, for a log line. */
  readonly reason: string;
  /**
   * True when no query could ever reach it: it is left out. False when queries fail only
   * until something on the node changes (an interface named by the zone appears): it is kept.
   */
  readonly unusable: boolean;
}

const NUMERIC_ZONE = /^\d+$/;

/**
 * What is wrong with a nameserver address, or null when it is usable.
 *
 * resolv.conf(5) takes an IPv4 or IPv6 address, and glibc's resolver an IPv6 zone after it
 * (`fe80::1%eth0`, RFC 4007 §11: the link of a link-local address, as routers announce
 * resolvers by RA, RFC 8106, or DHCPv6); glibc skips any other value (a host name, a typo)
 * without a word, so the node's programs never use it. Passed on to Deno, such a value would
 * instead be looked up (getaddrinfo: through the node's resolver, with `manageResolvConf` the
 * agent itself) for every forwarded query, and a zone that getaddrinfo does not read (an
 * interface name on an address that is not link-local; Deno 2.9.6 reads `::1%1` but refuses
 * `::1%lo`) fails every query, both only visible at `debug`. A zone naming an interface the
 * node does not have (now) makes every query to it fail until the interface appears.
 * @param interfaces names of the node's interfaces, or null when unknown (no check)
 */
export function nameserverProblem(
  nameserver: string,
  interfaces: readonly string[] | null,
): NameserverProblem | null {
  const host = nameserver.replace(/^\[|\]$/g, "");
  const pct = host.indexOf("%");
  const address = pct < 0 ? host : host.slice(0, pct);
  const zone = pct < 0 ? null : host.slice(pct + 1);
  const ip = parseIp(address);
  const problem = (reason: string, unusable: boolean) => ({ nameserver, reason, unusable });
  if (ip === null) {
    return problem(
      "not an IP address (resolv.conf takes only addresses; glibc skips it too)",
      true,
    );
  }
  if (zone === null || NUMERIC_ZONE.test(zone)) return null;
  if (ip.family === 4) return problem("a zone index is for IPv6 addresses only", true);
  const linkLocal = specialIpKind(ip) === "link-local" ||
    specialIpKind(ip) === "link-local multicast";
  if (!linkLocal) {
    return problem(
      `the zone "%${zone}" names an interface, which only a link-local address (fe80::/10) may; ` +
        `write it without the zone or with the interface's index`,
      true,
    );
  }
  if (interfaces !== null && !interfaces.includes(zone)) {
    return problem(
      `this node has no interface "${zone}" (yet): queries to it fail until it appears`,
      false,
    );
  }
  return null;
}

/**
 * Upstreams from resolv.conf text, without our own listen addresses (forwarding to ourselves
 * would loop). A wildcard listen address (`0.0.0.0`, `::`) on port 53 also excludes loopback.
 * Values that are not addresses are left out, as glibc leaves them out, and passed to
 * `ignored` (see {@linkcode nameserverProblem}).
 */
export function upstreamsFromResolvConf(
  text: string,
  exclude: readonly Upstream[],
  ignored: (problem: NameserverProblem) => void = () => {},
): Upstream[] {
  const wildcard53 = exclude.some((e) =>
    (e.hostname === "0.0.0.0" || e.hostname === "::") && e.port === 53
  );
  return parseResolvConf(text)
    .filter((ns) => {
      const problem = nameserverProblem(ns, null);
      if (problem !== null && problem.unusable) ignored(problem);
      return problem === null || !problem.unusable;
    })
    .map((ns) => ({ hostname: ns, port: 53 }))
    .filter((u) =>
      !exclude.some((e) => e.port === u.port && sameHost(e.hostname, u.hostname)) &&
      !(wildcard53 && /^(127\.|::1$)/.test(u.hostname))
    );
}
