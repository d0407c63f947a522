// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Keeps VIPs off the addresses the node itself holds. An address of the VIP subnet on another
 * interface (`9.251.0.7` on `eth1`) that the pool handed to a service exists twice on the node:
 * on `eth1` and on the VIP device, and the service's listener and `eth1` fight over it. The
 * agent reads the node's addresses at start, before the registry restores or allocates anything,
 * and then at each look of the device watch (one getifaddrs read every 5 s, `device_watch.ts`),
 * and gives those inside the subnet to the registry as reserved: new VIPs skip them
 * (`VipPool.setReserved`, lib/registry).
 *
 * A service that holds such an address already (restored state, or the address appeared on the
 * other interface later) keeps it: a VIP never moves under its clients. The agent warns once per
 * such address, with the fix, and `ctl status` shows it in a `Warning:` row (`vipConflicts` in
 * `-o json`) while it lasts. {@linkcode nodeAddressesIn} and {@linkcode vipConflicts} are the pure
 * parts.
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { cidrContains, type Ipv4Cidr, parseCidr, parseIp } from "../netaddr/mod.ts";
import type { Snapshot } from "../registry/mod.ts";
import type { InterfaceAddress } from "../sys/mod.ts";

/** A service's VIP that the node also holds on another interface. */
export interface VipConflict {
  /** `namespace/name` of the service holding the VIP. */
  readonly service: string;
  readonly vip: string;
  /** The other interface holding the same address (`eth1`). */
  readonly interface: string;
}

/**
 * The node's IPv4 addresses inside `subnet` on interfaces other than `device` (the VIP device,
 * whose addresses are the agent's own), each with the first interface listed for it.
 */
export function nodeAddressesIn(
  list: readonly InterfaceAddress[],
  device: string,
  subnet: Ipv4Cidr,
): Map<string, string> {
  const out = new Map<string, string>();
  for (const i of list) {
    if (i.family !== "IPv4" || i.name === device || out.has(i.address)) continue;
    const ip = parseIp(i.address);
    if (ip !== null && cidrContains(subnet, ip)) out.set(i.address, i.name);
  }
  return out;
}

/**
 * The VIPs of `vips` (a snapshot's `VIP → service`) that `held` (`address → interface`, from
 * {@linkcode nodeAddressesIn}) also lists, in address order.
 */
export function vipConflicts(
  held: ReadonlyMap<string, string>,
  vips: ReadonlyMap<string, string>,
): VipConflict[] {
  const out: VipConflict[] = [];
  for (const [vip, iface] of held) {
    const service = vips.get(vip);
    if (service !== undefined) out.push({ service, vip, interface: iface });
  }
  return out.sort((a, b) => (parseIpv4Number(a.vip) - parseIpv4Number(b.vip)));
}

function parseIpv4Number(text: string): number {
  const ip = parseIp(text);
  return ip !== null && ip.family === 4 ? ip.address : 0;
}

/** Options of {@linkcode nodeVipGuard}. */
export interface NodeVipGuardOptions {
  /** The VIP device (config `device`): its addresses are the agent's own. */
  readonly device: string;
  /** Config `subnet` (already validated). */
  readonly subnet: string;
  /** The registry: reserved addresses go in, the published VIPs are read. */
  readonly registry: {
    setReserved(addresses: Iterable<string>): boolean;
    snapshot(): Pick<Snapshot, "vips">;
  };
  readonly log: Logger;
}

/** What {@linkcode nodeVipGuard} returns. */
export interface NodeVipGuard {
  /** Takes a fresh interface list: reserves its addresses in the subnet, warns of new conflicts. */
  look(list: readonly InterfaceAddress[]): void;
  /** The conflicts found at the last look (for `ctl status`). */
  conflicts(): readonly VipConflict[];
}

/**
 * The shell around {@linkcode nodeAddressesIn} and {@linkcode vipConflicts}: each look gives the
 * registry the node's addresses in the subnet, then warns once per VIP that another interface
 * also holds (with the service, the interface and the fix), and says when that is over.
 */
export function nodeVipGuard(options: NodeVipGuardOptions): NodeVipGuard {
  const subnet = parseCidr(options.subnet, { family: 4 });
  let current: readonly VipConflict[] = [];
  /** `vip interface service` of the conflicts warned about. */
  let warned = new Set<string>();
  return {
    look(list) {
      const held = nodeAddressesIn(list, options.device, subnet);
      if (options.registry.setReserved(held.keys())) {
        options.log.debug("addresses of the node in the VIP subnet, skipped by new VIPs", {
          reserved: [...held].map(([a, i]) => `${a} (${i})`).join(", ") || "none",
        });
      }
      current = vipConflicts(held, options.registry.snapshot().vips);
      const next = new Set<string>();
      for (const c of current) {
        const key = `${c.vip} ${c.interface} ${c.service}`;
        next.add(key);
        if (warned.has(key)) continue;
        options.log.warn(
          "A service's VIP is also an address of another interface of this node: the two " +
            "fight over it",
          {
            service: c.service,
            vip: c.vip,
            interface: c.interface,
            fix: `remove ${c.vip} from ${c.interface}, or set subnet to a range no interface ` +
              "of this node uses (the service keeps its VIP; new VIPs skip the address)",
          },
        );
      }
      for (const key of warned) {
        if (next.has(key)) continue;
        const [vip, iface, service] = key.split(" ");
        options.log.info("A VIP is no longer also on another interface", {
          service,
          vip,
          interface: iface,
        });
      }
      warned = next;
    },
    conflicts: () => current,
  };
}
