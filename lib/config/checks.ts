// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The checks of single config values ({@linkcode Checker}): each returns the validated value, or
 * records a {@linkcode ConfigIssue} naming the key path and returns undefined, so that
 * {@linkcode parseConfig} collects every problem of a document, not just the first.
 * @module
 */
import type { TunnelTlsConfig } from "./schema.ts";
import type { ConfigIssue } from "./issues.ts";
import { describe, isPlainObject, suggest } from "./values.ts";
import {
  type CidrProblem,
  formatCidr,
  type HostPortProblem,
  isCidr,
  isDnsName,
  isHostPort,
  MAX_PORT,
  parseIpv6,
  readCidr,
  readHostPort,
} from "../netaddr/mod.ts";

const TLS_KEYS: readonly (keyof TunnelTlsConfig)[] = ["certFile", "keyFile", "caFile"];
/** `sun_path` is 108 bytes on Linux, including the terminating NUL (unix(7)). */
const MAX_SOCKET_PATH_BYTES = 107;
/**
 * The metrics server's socket beside the control socket: `<controlSocket>.metrics`, named after
 * it so that two agents sharing a directory never share it (the control socket itself is
 * refused to a second live agent). Exported for the agent, which opens it.
 */
export const METRICS_SOCKET_SUFFIX = ".metrics";
/** Smallest VIP subnet: network, DNS address and at least one VIP. */
const MAX_SUBNET_PREFIX = 30;
/** Largest VIP subnet the registry's pool accepts. */
const MIN_SUBNET_PREFIX = 8;

/** Collects issues; each check returns the validated value or undefined after recording. */
export class Checker {
  readonly issues: ConfigIssue[] = [];

  fail(path: string, message: string): undefined {
    this.issues.push({ path, message });
    return undefined;
  }

  unknownKeys(prefix: string, obj: Record<string, unknown>, known: readonly string[]): void {
    for (const key of Object.keys(obj)) {
      if (known.includes(key)) continue;
      const guess = suggest(key, known);
      const hint = guess === undefined ? "" : ` (did you mean "${guess}"?)`;
      this.fail(prefix + key, `unknown key "${key}"${hint}`);
    }
  }

  string(path: string, v: unknown): string | undefined {
    if (typeof v !== "string") return this.fail(path, `expected a string, got ${describe(v)}`);
    return v;
  }

  bool(path: string, v: unknown): boolean | undefined {
    if (typeof v !== "boolean") {
      return this.fail(path, `expected true or false, got ${describe(v)}`);
    }
    return v;
  }

  int(path: string, v: unknown, min: number, max: number): number | undefined {
    if (typeof v !== "number" || !Number.isInteger(v)) {
      return this.fail(path, `expected an integer, got ${describe(v)}`);
    }
    if (v < min || v > max) return this.fail(path, `${v} is out of range ${min}-${max}`);
    return v;
  }

  /** Milliseconds as a number, or a string like `500ms`, `2s`, `1m`, `1h`. */
  duration(path: string, v: unknown, min: number, max: number): number | undefined {
    if (typeof v === "string") {
      const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)$/.exec(v.trim());
      if (!m) {
        return this.fail(path, `expected milliseconds or a duration like "2s", got ${describe(v)}`);
      }
      const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms" | "s" | "m" | "h"];
      const ms = Math.round(Number(m[1]) * unit);
      if (ms < min || ms > max) {
        return this.fail(path, `${describe(v)} is out of range ${min}-${max} ms`);
      }
      return ms;
    }
    if (typeof v !== "number" || !Number.isInteger(v)) {
      return this.fail(path, `expected milliseconds or a duration like "2s", got ${describe(v)}`);
    }
    if (v < min || v > max) return this.fail(path, `${v} is out of range ${min}-${max} ms`);
    return v;
  }

  oneOf<T extends string>(path: string, v: unknown, values: readonly T[]): T | undefined {
    const s = this.string(path, v);
    if (s === undefined) return undefined;
    if (!values.includes(s as T)) {
      return this.fail(path, `${describe(s)} is not one of ${values.join(", ")}`);
    }
    return s as T;
  }

  list<T>(
    path: string,
    v: unknown,
    item: (path: string, v: unknown) => T | undefined,
  ): readonly T[] | undefined {
    if (!Array.isArray(v)) return this.fail(path, `expected a list, got ${describe(v)}`);
    const before = this.issues.length;
    const out = v.map((x, i) => item(`${path}[${i}]`, x));
    return this.issues.length === before ? out as T[] : undefined;
  }

  path(path: string, v: unknown): string | undefined {
    const s = this.string(path, v);
    if (s === undefined) return undefined;
    if (s.trim() === "" || s.includes("\0")) return this.fail(path, `${describe(s)} is not a path`);
    return s;
  }

  /** A Unix socket path; `reserve` bytes are kept for a socket named after it (a suffix). */
  socketPath(path: string, v: unknown, reserve = 0): string | undefined {
    const s = this.path(path, v);
    if (s === undefined) return undefined;
    const bytes = new TextEncoder().encode(s).length;
    const max = MAX_SOCKET_PATH_BYTES - reserve;
    if (bytes > max) {
      const why = reserve === 0
        ? `Unix socket paths are limited to ${MAX_SOCKET_PATH_BYTES}`
        : `it may have at most ${max}: Unix socket paths are limited to ${MAX_SOCKET_PATH_BYTES}, ` +
          `and the metrics socket beside it adds "${METRICS_SOCKET_SUFFIX}"`;
      return this.fail(path, `${describe(s)} is ${bytes} bytes long; ${why}`);
    }
    return s;
  }

  subnet(path: string, v: unknown): string | undefined {
    const s = this.string(path, v);
    if (s === undefined) return undefined;
    const cidr = readCidr(s, { strict: true });
    if (!isCidr(cidr)) return this.cidrProblem(path, s, cidr, "is not a CIDR");
    if (cidr.family !== 4) return this.fail(path, `${describe(s)} is not an IPv4 CIDR`);
    if (cidr.prefix > MAX_SUBNET_PREFIX) {
      return this.fail(
        path,
        `${describe(s)} is too small: VIPs need at least a /${MAX_SUBNET_PREFIX}`,
      );
    }
    if (cidr.prefix < MIN_SUBNET_PREFIX) {
      return this.fail(
        path,
        `${describe(s)} is too large: VIP subnets must be at most a /${MIN_SUBNET_PREFIX}`,
      );
    }
    return s;
  }

  allowFrom(path: string, v: unknown): string | undefined {
    const s = this.string(path, v);
    if (s === undefined) return undefined;
    if (s === "node") return s;
    const cidr = readCidr(s, { strict: true });
    if (isCidr(cidr)) return s;
    return this.cidrProblem(path, s, cidr, 'is neither a CIDR nor "node"');
  }

  cidrProblem(path: string, s: string, problem: CidrProblem, notCidr: string): undefined {
    if (problem.kind === "hostBits") {
      const network = formatCidr(problem.network);
      return this.fail(path, `${describe(s)} has host bits set (did you mean "${network}"?)`);
    }
    return this.fail(path, `${describe(s)} ${notCidr}`);
  }

  /** A listen address `IP:port`; port 0 lets the kernel pick (tests). */
  listen(path: string, v: unknown): string | undefined {
    return this.hostPort(path, v, { allowNames: false, minPort: 0 });
  }

  /**
   * An upstream resolver `IP[:port]` (port 53 when omitted); an IPv6 address may carry a zone
   * (`fe80::1%eth0`, `[fe80::1%eth0]:53`, RFC 4007 §11), as resolv.conf `nameserver` lines do:
   * a link-local resolver announced by the router (RFC 8106) needs it.
   */
  upstream(path: string, v: unknown): string | undefined {
    return this.hostPort(path, v, { allowNames: false, minPort: 1, defaultPort: 53, zone: true });
  }

  hostPort(
    path: string,
    v: unknown,
    opts: { allowNames: boolean; minPort: number; defaultPort?: number; zone?: boolean },
  ): string | undefined {
    const s = this.string(path, v);
    if (s === undefined) return undefined;
    const hp = readHostPort(s, {
      host: opts.allowNames ? "name" : "ip",
      minPort: opts.minPort,
      defaultPort: opts.defaultPort,
      bareIpv6: true,
      zone: opts.zone ?? false,
    });
    if (isHostPort(hp)) return s;
    if (hp.kind === "portRange") {
      return this.fail(path, `port ${hp.value} is out of range ${opts.minPort}-${MAX_PORT}`);
    }
    const form = opts.allowNames ? "a host:port" : "an IP:port";
    return this.fail(path, `${describe(s)} is not ${form} address${bracketHint(s, hp)}`);
  }

  nodeName(path: string, v: unknown): string | undefined {
    const s = this.string(path, v);
    if (s === undefined) return undefined;
    if (!isDnsName(s) || s.endsWith(".")) {
      return this.fail(path, `${describe(s)} is not a valid node name (RFC 1123 DNS subdomain)`);
    }
    return s;
  }

  domain(path: string, v: unknown): string | undefined {
    const s = this.string(path, v);
    if (s === undefined) return undefined;
    if (!isDnsName(s)) return this.fail(path, `${describe(s)} is not a DNS domain name`);
    return s.endsWith(".") ? s.slice(0, -1) : s;
  }

  namespace(path: string, v: unknown): string | undefined {
    const s = this.string(path, v);
    if (s === undefined) return undefined;
    if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(s)) {
      return this.fail(path, `${describe(s)} is not a valid namespace (RFC 1123 DNS label)`);
    }
    return s;
  }

  /** A Linux interface name: 1-15 bytes (IFNAMSIZ 16 with NUL), no "/", ":" or spaces. */
  device(path: string, v: unknown): string | undefined {
    const s = this.string(path, v);
    if (s === undefined) return undefined;
    if (!/^[^\s/:]{1,15}$/.test(s) || s === "." || s === "..") {
      return this.fail(
        path,
        `${describe(s)} is not a valid interface name (1-15 characters, no "/", ":" or spaces)`,
      );
    }
    return s;
  }

  tls(path: string, v: unknown): TunnelTlsConfig | undefined {
    if (!isPlainObject(v)) {
      return this.fail(
        path,
        `expected a mapping with certFile, keyFile, caFile, got ${describe(v)}`,
      );
    }
    const before = this.issues.length;
    this.unknownKeys(`${path}.`, v, TLS_KEYS);
    const out: Record<string, string | undefined> = {};
    for (const key of TLS_KEYS) {
      if (v[key] === undefined) this.fail(`${path}.${key}`, "is required");
      else out[key] = this.path(`${path}.${key}`, v[key]);
    }
    return this.issues.length === before ? out as unknown as TunnelTlsConfig : undefined;
  }

  peers(path: string, v: unknown): Readonly<Record<string, string>> | undefined {
    if (!isPlainObject(v)) {
      return this.fail(path, `expected a mapping of node names to host:port, got ${describe(v)}`);
    }
    const before = this.issues.length;
    const out: Record<string, string> = {};
    for (const [name, addr] of Object.entries(v)) {
      const p = `${path}.${name}`;
      if (!isDnsName(name)) this.fail(p, `${describe(name)} is not a valid node name`);
      const a = this.hostPort(p, addr, { allowNames: true, minPort: 1 });
      if (a !== undefined) out[name] = a;
    }
    return this.issues.length === before ? out : undefined;
  }
}

/**
 * For an IPv6 address written with a port but without brackets (`::1:9560`, which cannot be
 * told from an address): the bracketed form RFC 3986 §3.2.2 asks for, after the error; "" for
 * any other problem.
 */
function bracketHint(text: string, problem: HostPortProblem): string {
  // A listen address such as `::1:9560` reads as the IPv6 address ::1:9560 without a port.
  if (problem.kind !== "bracket" && problem.kind !== "missingPort") return "";
  const colon = text.lastIndexOf(":");
  const host = text.slice(0, colon);
  const port = text.slice(colon + 1);
  if (!/^\d{1,5}$/.test(port) || parseIpv6(host.replace(/%.*$/, "")) === null) return "";
  return ` (an IPv6 address with a port goes in brackets: "[${host}]:${port}")`;
}
