// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * `host:port` text (RFC 3986 §3.2.2/§3.2.3: IPv6 hosts in brackets, `[fd00::1]:53`), with the
 * policies the callers need: a default port for a bare host, port 0 for listen addresses
 * (the kernel picks), IP literals only or names too, an unbracketed IPv6 address as a bare
 * host (resolv.conf `nameserver` lines), IPv6 zone indices (`fe80::1%eth0`, RFC 4007 §11).
 *
 * {@linkcode readHostPort} returns the problem as data (for validators and callers with their
 * own messages); {@linkcode parseHostPort} throws `SyntaxError`/`RangeError`.
 * @module
 */
import { parseIpv4 } from "./ipv4.ts";
import { parseIpv6 } from "./ipv6.ts";

/** A parsed `host:port`; an IPv6 host is without brackets. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/**
 * What the host part may be:
 * - `"ip"`: an IP literal (IPv4 read strictly, without leading zeros);
 * - `"name"`: an IP literal or an RFC 1123 DNS name ({@linkcode isDnsName});
 * - `"any"`: an IP literal or any text of letters, digits, `.`, `_` and `-` (left to the
 *   resolver to judge).
 */
export type HostKind = "ip" | "name" | "any";

/** Options of {@linkcode readHostPort} and {@linkcode parseHostPort}. */
export interface HostPortOptions {
  /** Port of a text without one; when absent, the port is required. */
  readonly defaultPort?: number;
  /** Lowest port accepted: 0 lets the kernel pick (listen addresses, tests). @default 1 */
  readonly minPort?: number;
  /** What the host may be. @default "any" */
  readonly host?: HostKind;
  /** Accept an unbracketed IPv6 address as a host without port (needs `defaultPort`). */
  readonly bareIpv6?: boolean;
  /** Accept an IPv6 zone index (`%eth0`) after an IPv6 host. @default false */
  readonly zone?: boolean;
}

/**
 * Why {@linkcode readHostPort} rejected a text: an unbracketed IPv6 address with a port, a bad
 * host, no port and no default, a port that is not 1–5 digits, or one outside
 * `minPort`–65535 (`value`, with the `host` it came with).
 */
export type HostPortProblem =
  | { readonly kind: "bracket" }
  | { readonly kind: "host" }
  | { readonly kind: "missingPort" }
  | { readonly kind: "portSyntax"; readonly portText: string }
  | { readonly kind: "portRange"; readonly host: string; readonly value: number };

/** Highest TCP/UDP port. */
export const MAX_PORT = 65535;

const LABEL = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;
const LOOSE_HOST = /^[0-9A-Za-z._-]+$/;
const ZONE = /^[0-9A-Za-z._-]+$/;

/** Whether `s` is a DNS name (RFC 1123 §2.1 labels, dot separated, optional trailing dot). */
export function isDnsName(s: string): boolean {
  const name = s.endsWith(".") ? s.slice(0, -1) : s;
  if (name.length === 0 || name.length > 253) return false;
  return name.split(".").every((l) => LABEL.test(l));
}

/** Whether `host` is an IPv6 literal, with a zone index when `zone` allows one. */
function isIpv6Host(host: string, zone: boolean): boolean {
  const pct = host.indexOf("%");
  if (pct >= 0 && !(zone && ZONE.test(host.slice(pct + 1)))) return false;
  return parseIpv6(pct < 0 ? host : host.slice(0, pct)) !== null;
}

function isHost(host: string, kind: HostKind): boolean {
  if (parseIpv4(host, { strict: kind === "ip" }) !== null) return true;
  if (kind === "name") return isDnsName(host);
  return kind === "any" && LOOSE_HOST.test(host);
}

/** Whether `v` is a parsed address rather than a {@linkcode HostPortProblem}. */
export function isHostPort(v: HostPort | HostPortProblem): v is HostPort {
  return !("kind" in v);
}

/** Parses `host:port`, `[v6]:port` or (with `defaultPort`) a bare host, or says what is wrong. */
export function readHostPort(
  text: string,
  options: HostPortOptions = {},
): HostPort | HostPortProblem {
  const kind = options.host ?? "any";
  const zone = options.zone ?? false;
  let host: string;
  let portText: string | undefined;
  const bracket = /^\[([^\]]*)\](?::(.*))?$/s.exec(text);
  if (bracket) {
    host = bracket[1]!;
    portText = bracket[2];
    if (!isIpv6Host(host, zone)) return { kind: "host" };
  } else {
    const first = text.indexOf(":");
    if (first >= 0 && text.indexOf(":", first + 1) >= 0) {
      if (!options.bareIpv6 || !isIpv6Host(text, zone)) return { kind: "bracket" };
      host = text;
    } else {
      host = first < 0 ? text : text.slice(0, first);
      portText = first < 0 ? undefined : text.slice(first + 1);
      if (!isHost(host, kind)) return { kind: "host" };
    }
  }
  if (portText === undefined) {
    if (options.defaultPort === undefined) return { kind: "missingPort" };
    return { host, port: options.defaultPort };
  }
  if (!/^\d{1,5}$/.test(portText)) return { kind: "portSyntax", portText };
  const port = Number(portText);
  if (port < (options.minPort ?? 1) || port > MAX_PORT) {
    return { kind: "portRange", host, value: port };
  }
  return { host, port };
}

/**
 * Parses `host:port`, `[v6]:port` or (with `defaultPort`) a bare host.
 * @throws {SyntaxError} when the text is not an address under `options`
 * @throws {RangeError} when the port is outside `minPort`–65535
 */
export function parseHostPort(text: string, options: HostPortOptions = {}): HostPort {
  const got = readHostPort(text, options);
  if (isHostPort(got)) return got;
  const head = `Cannot parse address ${JSON.stringify(text)}`;
  switch (got.kind) {
    case "bracket":
      throw new SyntaxError(`${head}: bracket IPv6 addresses`);
    case "host":
      throw new SyntaxError(`${head}: host is empty or invalid`);
    case "missingPort":
      throw new SyntaxError(`${head}: port is missing`);
    case "portSyntax":
      throw new SyntaxError(`${head}: port ${JSON.stringify(got.portText)} is not a number`);
    case "portRange":
      throw new RangeError(`${head}: port ${got.value} is out of range`);
  }
}

/** Formats `host:port`, bracketing IPv6 hosts (RFC 3986 §3.2.2). */
export function formatHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
