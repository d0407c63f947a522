// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * A stateful stand-in for `ip` (iproute2) implementing {@linkcode Exec}: it remembers links
 * and addresses so an in-process agent can run without touching the host's network. Pair it
 * with a subnet inside 127.0.0.0/8, whose addresses the kernel accepts on loopback anyway, so
 * VIP listeners bind for real.
 * @module
 */
import { type Config, parseConfig } from "../../lib/config/mod.ts";
import type { Exec, ExecResult } from "../../lib/netdev/mod.ts";

/** The fake's state, for assertions. */
export interface FakeIp extends Exec {
  readonly links: Map<string, FakeLink>;
  readonly calls: string[][];
}

/** One link of the fake. */
export interface FakeLink {
  type: string;
  addresses: Set<string>;
  up: boolean;
  alias?: string;
}

/** Builds a fake `ip` with no links; `dummy` is unsupported, as on this build machine. */
export function fakeIp(): FakeIp {
  const links = new Map<string, FakeLink>();
  const calls: string[][] = [];
  const ok = (stdout = ""): ExecResult => ({ code: 0, stdout, stderr: "" });
  const fail = (stderr: string): ExecResult => ({ code: 1, stdout: "", stderr });
  const batch = (stdin: string): ExecResult => {
    for (const line of stdin.split("\n").filter((l) => l.trim())) {
      const [obj, verb, cidr, _dev, name] = line.trim().split(/\s+/);
      const link = links.get(name ?? "");
      if (obj !== "addr" || !link || !cidr) return fail(`Command failed: ${line}`);
      const ip = cidr.split("/")[0]!;
      if (verb === "replace" || verb === "add") link.addresses.add(ip);
      else if (verb === "del") link.addresses.delete(ip);
    }
    return ok();
  };
  const run = (argv: readonly string[], stdin?: string): ExecResult => {
    const a = argv.join(" ");
    let m: RegExpMatchArray | null;
    if ((m = a.match(/^ip -json -details link show dev (\S+)$/))) {
      const link = links.get(m[1]!);
      return link
        ? ok(JSON.stringify([{
          ifname: m[1],
          linkinfo: { info_kind: link.type },
          ...(link.alias === undefined ? {} : { ifalias: link.alias }),
        }]))
        : fail(`Device "${m[1]}" does not exist.`);
    }
    if ((m = a.match(/^ip link add (\S+) type (\S+)$/))) {
      if (m[2] === "dummy") return fail("Error: Unknown device type.");
      links.set(m[1]!, { type: m[2]!, addresses: new Set(), up: false });
      return ok();
    }
    if ((m = a.match(/^ip link set dev (\S+)(?: alias (.+))? up$/))) {
      const link = links.get(m[1]!);
      if (!link) return fail(`Cannot find device "${m[1]}"`);
      link.up = true;
      if (m[2] !== undefined) link.alias = m[2];
      return ok();
    }
    if ((m = a.match(/^ip link del dev (\S+)$/))) {
      return links.delete(m[1]!) ? ok() : fail("Cannot find device");
    }
    if ((m = a.match(/^ip -json addr show dev (\S+)$/))) {
      const link = links.get(m[1]!);
      if (!link) return fail(`Device "${m[1]}" does not exist.`);
      const addrInfo = [...link.addresses].map((ip) => ({
        family: "inet",
        local: ip,
        prefixlen: 32,
      }));
      const flags = link.up ? ["BROADCAST", "UP"] : ["BROADCAST"];
      return ok(JSON.stringify([{ ifname: m[1], flags, addr_info: addrInfo }]));
    }
    if (a === "ip -batch -") return batch(stdin ?? "");
    return fail(`fake ip: unsupported command "${a}"`);
  };
  return {
    links,
    calls,
    run(argv, options = {}) {
      calls.push([...argv]);
      return Promise.resolve(run(argv, options.stdin));
    },
  };
}

/**
 * A config for an agent run in-process with {@linkcode fakeIp} and a loopback subnet (127/8
 * addresses bind without any device), its state and control socket in `dir`, no metrics port:
 * nothing on the host's network changes. `extra` keys (config file form) are added before parsing.
 */
export function inProcessAgentConfig(dir: string, extra: Record<string, unknown> = {}): Config {
  return parseConfig({
    stateDir: `${dir}/state`,
    controlSocket: `${dir}/run/edgemesh.sock`,
    subnet: "127.77.0.0/24",
    dnsListen: ["127.0.0.1:0"],
    metricsListen: "",
    nodeName: "edge-test",
    ...extra,
  }, { hostname: "ignored" });
}
