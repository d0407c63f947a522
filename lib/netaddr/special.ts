// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Addresses that can never be a service endpoint: the ones Kubernetes' API validation refuses
 * in Endpoints and EndpointSlices (`ValidateEndpointIP`, formerly `ValidateNonSpecialIP`, in
 * `pkg/apis/core/validation`): unspecified, loopback, link-local unicast and link-local
 * multicast, as Go's `net.IP` methods classify them — an IPv4-mapped IPv6 address
 * (`::ffff:127.0.0.1`) counts as its IPv4 address. Other multicast addresses are not refused
 * (Kubernetes accepts them; a TCP connection to one fails anyway).
 * @module
 */
import { type IpAddress, parseIp } from "./ip.ts";

/** Why an address cannot be an endpoint (the Kubernetes categories). */
export type SpecialIpKind = "unspecified" | "loopback" | "link-local" | "link-local multicast";

/** Kubernetes' words for each kind, after "may not be". */
export const SPECIAL_IP_TEXT: Readonly<Record<SpecialIpKind, string>> = {
  unspecified: "unspecified (0.0.0.0, ::)",
  loopback: "in the loopback range (127.0.0.0/8, ::1/128)",
  "link-local": "in the link-local range (169.254.0.0/16, fe80::/10)",
  "link-local multicast": "in the link-local multicast range (224.0.0.0/24, ffx2::/16)",
};

function ipv4Kind(a: number): SpecialIpKind | null {
  if (a === 0) return "unspecified";
  if (a >>> 24 === 127) return "loopback";
  if (a >>> 16 === 0xa9fe) return "link-local";
  if (a >>> 8 === 0xe00000) return "link-local multicast";
  return null;
}

/**
 * The kind of special address `ip` is, or null for an address that may be an endpoint. Takes
 * a parsed address or its text (null for text that is not an address).
 */
export function specialIpKind(ip: IpAddress | string): SpecialIpKind | null {
  const addr = typeof ip === "string" ? parseIp(ip) : ip;
  if (addr === null) return null;
  if (addr.family === 4) return ipv4Kind(addr.address);
  const g = addr.groups;
  // IPv4-mapped (::ffff:a.b.c.d): Go's To4() reads it as the IPv4 address.
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return ipv4Kind(((g[6]! << 16) | g[7]!) >>> 0);
  }
  if (g.every((x) => x === 0)) return "unspecified";
  if (g.slice(0, 7).every((x) => x === 0) && g[7] === 1) return "loopback";
  if ((g[0]! & 0xffc0) === 0xfe80) return "link-local";
  // ff02::/16 and the same scope with other flags (ff12::, ff32::, …), as Go's IsLinkLocalMulticast.
  if ((g[0]! & 0xff0f) === 0xff02) return "link-local multicast";
  return null;
}

/**
 * The problem text for an address that cannot be an endpoint, or null:
 * `"127.0.0.1" may not be in the loopback range (127.0.0.0/8, ::1/128)`.
 */
export function specialIpProblem(text: string): string | null {
  const kind = specialIpKind(text);
  return kind === null ? null : `${JSON.stringify(text)} may not be ${SPECIAL_IP_TEXT[kind]}`;
}
