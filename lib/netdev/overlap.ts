// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Whether the VIP subnet collides with the node's own network. VIPs are /32 addresses on the
 * agent's device, and the kernel's local routes win over every other route: an address or a
 * route of the node inside the subnet is hidden from the node's own traffic as soon as a VIP or
 * the DNS address lands on it (a host on the LAN at 9.251.0.5 becomes unreachable from the node;
 * `9.251.0.1` on `eth0` is duplicated on `edge0`). Nothing fails when that happens, so the agent
 * says it at start ({@linkcode checkSubnet}; {@linkcode subnetOverlaps} is the pure part, over
 * what `ip -json -4 addr show` and `ip -json -4 route show` print).
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { cidrContains, formatCidr, type Ipv4Cidr, parseIp } from "../netaddr/mod.ts";
import type { Exec } from "./exec.ts";

/** One address or route of the node that overlaps the VIP subnet. */
export type SubnetOverlap =
  | {
    readonly kind: "address";
    /** The interface holding it. */
    readonly device: string;
    /** `address/prefix` as the node has it. */
    readonly cidr: string;
  }
  | {
    readonly kind: "route";
    readonly device: string;
    /** The destination, `network/prefix` (a host route as `/32`). */
    readonly cidr: string;
    /** Its gateway, or null for a route on the link. */
    readonly via: string | null;
  };

/** One link of `ip -json addr show` and one entry of `ip -json route show`, as far as read here. */
interface AddrLink {
  readonly ifname?: unknown;
  readonly "addr_info"?: unknown;
}
interface RouteEntry {
  readonly dst?: unknown;
  readonly dev?: unknown;
  readonly gateway?: unknown;
  readonly protocol?: unknown;
}

/**
 * The node's addresses and routes (other than on `device`, the agent's own) that overlap
 * `subnet`, in the order `ip` printed them. An address counts when its prefix and the subnet
 * overlap (`9.251.3.4/24`, or `9.0.0.1/8` which contains the subnet); a route when its
 * destination and the subnet overlap, except the default route and the routes the kernel adds
 * for an address (`proto kernel`: the address is listed already). Output that is not `ip -json`'s
 * shape gives no overlaps.
 */
export function subnetOverlaps(
  subnet: Ipv4Cidr,
  addrJson: string,
  routeJson: string,
  device: string,
): SubnetOverlap[] {
  const out: SubnetOverlap[] = [];
  for (const link of jsonArray<AddrLink>(addrJson)) {
    if (typeof link.ifname !== "string" || link.ifname === device) continue;
    if (!Array.isArray(link.addr_info)) continue;
    for (const a of link.addr_info as Record<string, unknown>[]) {
      if (a.family !== "inet" || typeof a.local !== "string") continue;
      if (typeof a.prefixlen !== "number") continue;
      const net = cidrOf(a.local, a.prefixlen);
      if (net !== null && overlap(net, subnet)) {
        out.push({ kind: "address", device: link.ifname, cidr: `${a.local}/${a.prefixlen}` });
      }
    }
  }
  for (const r of jsonArray<RouteEntry>(routeJson)) {
    if (typeof r.dst !== "string" || r.dst === "default" || r.dev === device) continue;
    if (r.protocol === "kernel") continue;
    const [ip, len] = r.dst.split("/");
    const net = cidrOf(ip!, len === undefined ? 32 : Number(len));
    if (net === null || net.prefix === 0 || !overlap(net, subnet)) continue;
    out.push({
      kind: "route",
      device: typeof r.dev === "string" ? r.dev : "",
      cidr: len === undefined ? `${r.dst}/32` : r.dst,
      via: typeof r.gateway === "string" ? r.gateway : null,
    });
  }
  return out;
}

/** One overlap as an operator reads it: `eth0 9.251.3.4/24`, `9.251.0.0/16 via 192.0.2.1 dev eth0`. */
export function formatOverlap(o: SubnetOverlap): string {
  if (o.kind === "address") return `${o.device} ${o.cidr}`;
  return `${o.cidr}${o.via === null ? "" : ` via ${o.via}`}${o.device ? ` dev ${o.device}` : ""}`;
}

function jsonArray<T>(text: string): T[] {
  try {
    const doc: unknown = JSON.parse(text);
    return Array.isArray(doc) ? doc as T[] : [];
  } catch {
    return [];
  }
}

function cidrOf(address: string, prefix: number): Ipv4Cidr | null {
  const ip = parseIp(address);
  if (ip === null || ip.family !== 4 || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) {
    return null;
  }
  return { family: 4, address: ip.address, prefix };
}

/** Whether two IPv4 prefixes share an address: one contains the other's network. */
function overlap(a: Ipv4Cidr, b: Ipv4Cidr): boolean {
  const aNet = { family: 4 as const, address: a.address };
  const bNet = { family: 4 as const, address: b.address };
  return cidrContains(a, bNet) || cidrContains(b, aNet);
}

/** Options of {@linkcode checkSubnet}. */
export interface CheckSubnetOptions {
  /** How `ip` runs (the agent's `Exec`). */
  readonly exec: Exec;
  /** The VIP subnet (config `subnet`, already validated: an IPv4 CIDR). */
  readonly subnet: Ipv4Cidr;
  /** The agent's device, whose addresses are its own. */
  readonly device: string;
  readonly log: Logger;
}

/**
 * Reads the node's IPv4 addresses and routes with two `ip -json -4` commands and warns once
 * when any overlaps the VIP subnet, with every overlap and the fix. Returns the overlaps;
 * nothing when `ip` cannot tell (it is a warning, never a reason not to start).
 */
export async function checkSubnet(options: CheckSubnetOptions): Promise<SubnetOverlap[]> {
  const read = async (argv: string[]) => {
    const r = await options.exec.run(argv);
    return r.code === 0 ? r.stdout : "";
  };
  const [addrs, routes] = await Promise.all([
    read(["ip", "-json", "-4", "addr", "show"]),
    read(["ip", "-json", "-4", "route", "show"]),
  ]);
  const found = subnetOverlaps(options.subnet, addrs, routes, options.device);
  if (found.length > 0) {
    options.log.warn(
      "The VIP subnet overlaps this node's network: VIPs there hide those addresses from the node",
      {
        subnet: formatCidr(options.subnet),
        overlaps: found.map(formatOverlap).join(", "),
        fix: "set subnet to a range that no network of this node uses",
      },
    );
  }
  return found;
}
