// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Which upstream resolvers the DNS server forwards to: config `upstreams`, or the `nameserver`
 * lines of resolv.conf without our own listen addresses, less those no query can reach. Read at
 * start ({@linkcode resolveUpstreams}) and again whenever resolv.conf changes
 * ({@linkcode resolvConfUpstreams}, used by `ResolvConfWatch`).
 * @module
 */
import type { Logger } from "../log/mod.ts";
import {
  type NameserverProblem,
  nameserverProblem,
  parseHostPort,
  type Upstream,
  upstreamsFromResolvConf,
} from "./nameservers.ts";

/** Options of {@linkcode resolveUpstreams} (the config keys). */
export interface ResolveUpstreamsOptions {
  /** Config `upstreams` (`host[:port]`); non-empty wins over resolv.conf. */
  readonly upstreams: readonly string[];
  /** Config `resolvConf`. @default "/etc/resolv.conf" */
  readonly resolvConf?: string;
  /** Config `dnsListen`: our own addresses, never used as upstreams. */
  readonly listen: readonly string[];
  /** @default {Deno.readTextFile} */
  readonly readTextFile?: (path: string) => Promise<string>;
  /**
   * Names of the node's interfaces, to check the zone of a link-local upstream
   * (`fe80::1%eth0`); null when they cannot be read. @default {denoInterfaceNames}
   */
  readonly interfaceNames?: () => readonly string[] | null;
  readonly log?: Logger;
}

/** The node's interface names from `Deno.networkInterfaces()`, or null without permission. */
export function denoInterfaceNames(): readonly string[] | null {
  try {
    return [...new Set(Deno.networkInterfaces().map((i) => i.name))];
  } catch {
    return null;
  }
}

/** Options of {@linkcode resolvConfUpstreams}. */
export interface ResolvConfUpstreamsOptions {
  /** Config `dnsListen`: our own addresses, never used as upstreams. */
  readonly listen: readonly string[];
  /** See {@linkcode ResolveUpstreamsOptions.interfaceNames}. @default {denoInterfaceNames} */
  readonly interfaceNames?: () => readonly string[] | null;
  /** Where the text came from, the `source` of the warnings (the resolv.conf path). */
  readonly source: string;
  readonly log?: Logger;
}

/**
 * The upstreams named by resolv.conf `text`: its `nameserver` lines without our own listen
 * addresses, less those no query can reach (each warned about: not an address, a zone naming an
 * interface on an address that is not link-local; a zone naming an interface the node does not
 * have yet is kept, with a warning).
 */
export function resolvConfUpstreams(text: string, options: ResolvConfUpstreamsOptions): Upstream[] {
  const warn = problemWarner(options.log, options.source);
  const listed = upstreamsFromResolvConf(text, options.listen.map((l) => parseHostPort(l)), warn);
  return reachable(listed, options.interfaceNames, warn);
}

/** Said with "forwarding is off" at start: it comes back by itself (`ResolvConfWatch`). */
const FOLLOWED = "resolv.conf names a usable nameserver (checked every 10 s)";

/**
 * The upstreams to forward to: config `upstreams` when set, otherwise the `nameserver` lines of
 * resolv.conf without our own listen addresses. Read this before `manageResolvConf` rewrites
 * the file. A missing or unreadable file, or one without a usable nameserver, gives no
 * upstreams (with a warning).
 */
export async function resolveUpstreams(options: ResolveUpstreamsOptions): Promise<Upstream[]> {
  if (options.upstreams.length > 0) {
    const warn = problemWarner(options.log, "upstreams");
    return reachable(options.upstreams.map((u) => parseHostPort(u)), options.interfaceNames, warn);
  }
  const path = options.resolvConf ?? "/etc/resolv.conf";
  const read = options.readTextFile ?? Deno.readTextFile;
  let text: string;
  try {
    text = await read(path);
  } catch (err) {
    options.log?.warn("Cannot read resolv.conf: DNS forwarding is off", {
      path,
      error: err,
      until: FOLLOWED,
    });
    return [];
  }
  const upstreams = resolvConfUpstreams(text, {
    listen: options.listen,
    source: path,
    ...(options.interfaceNames ? { interfaceNames: options.interfaceNames } : {}),
    ...(options.log ? { log: options.log } : {}),
  });
  // An empty file (a device booted before its network) said nothing, unlike a missing one:
  // forwarded names got REFUSED with no line in the log telling why.
  if (upstreams.length === 0) {
    options.log?.warn("resolv.conf names no usable nameserver: DNS forwarding is off", {
      path,
      until: FOLLOWED,
    });
  }
  return upstreams;
}

/**
 * An upstream no query can use, or one that fails until the node changes, is said once, when
 * the list is read: otherwise each query's failed attempt shows only at debug.
 */
function problemWarner(log: Logger | undefined, source: string) {
  return (p: NameserverProblem) =>
    log?.warn(
      p.unusable
        ? "Ignoring a DNS upstream that cannot be used"
        : "DNS upstream cannot be reached yet",
      { source, nameserver: p.nameserver, reason: p.reason },
    );
}

/** `upstreams` less those whose zone no query can use (see {@linkcode nameserverProblem}). */
function reachable(
  upstreams: Upstream[],
  interfaceNames: (() => readonly string[] | null) | undefined,
  warn: (p: NameserverProblem) => void,
): Upstream[] {
  if (!upstreams.some((u) => u.hostname.includes("%"))) return upstreams;
  const interfaces = (interfaceNames ?? denoInterfaceNames)();
  return upstreams.filter((u) => {
    const problem = nameserverProblem(u.hostname, interfaces);
    if (problem !== null) warn(problem);
    return problem === null || !problem.unusable;
  });
}
