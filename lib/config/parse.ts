// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Pure validation of a raw (parsed YAML/JSON) configuration into a frozen {@linkcode Config}.
 *
 * Every problem is collected, not just the first, so an operator fixes a config in one go;
 * unknown keys are rejected (with a suggestion) because a misspelt key silently falling back
 * to its default is the worst kind of configuration bug.
 * @module
 */
import type { Config, DeviceType, TunnelTlsConfig } from "./schema.ts";
import type { LbStrategy } from "../registry/model.ts";
import type { LogFormat, LogLevel } from "../log/mod.ts";
import { CONFIG_KEYS, DEFAULT_DNS_PORT, DEFAULTS, MAX_PROXY_THREADS } from "./defaults.ts";
import {
  type CidrProblem,
  formatCidr,
  formatIpv4,
  type HostPortProblem,
  isCidr,
  isDnsName,
  isHostPort,
  MAX_PORT,
  parseIpv6,
  readCidr,
  readHostPort,
} from "../netaddr/mod.ts";

/** One problem found in a configuration: the key path (`tunnelTLS.caFile`, `dnsListen[1]`). */
export interface ConfigIssue {
  /** Dotted key path; "" for the document itself. */
  readonly path: string;
  readonly message: string;
}

/**
 * The configuration is unusable. `issues` lists every problem; the agent refuses to start.
 * A `TypeError` subclass so callers can branch on it (`err instanceof ConfigError`).
 */
export class ConfigError extends TypeError {
  override name = "ConfigError";
  /** Every problem found, in key order. */
  readonly issues: readonly ConfigIssue[];
  /** The file the config came from, when there was one. */
  readonly file: string | undefined;

  constructor(issues: readonly ConfigIssue[], file?: string) {
    const where = file === undefined ? "config" : `config "${file}"`;
    super(`Cannot load ${where}: ${issues.map(formatIssue).join("; ")}`);
    this.issues = Object.freeze([...issues]);
    this.file = file;
  }
}

/** `path: message`, or just the message for document-level problems. */
export function formatIssue(issue: ConfigIssue): string {
  return issue.path === "" ? issue.message : `${issue.path}: ${issue.message}`;
}

/** Options of {@linkcode parseConfig}. */
export interface ParseConfigOptions {
  /** The machine's hostname, the default `nodeName`. */
  readonly hostname: string;
}

const DEVICE_TYPES: readonly DeviceType[] = ["auto", "dummy", "bridge"];
const LB_STRATEGIES: readonly LbStrategy[] = ["RoundRobin", "Random"];
const PROXY_ENGINES: readonly Config["proxyEngine"][] = ["auto", "epoll", "deno"];
const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];
const LOG_FORMATS: readonly LogFormat[] = ["logfmt", "json"];
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

/**
 * Validates `raw` (the parsed document; `undefined`/`null` mean "all defaults") and returns
 * the frozen config with every default filled in.
 * @throws {ConfigError} listing every problem found
 */
export function parseConfig(raw: unknown, options: ParseConfigOptions): Config {
  const c = new Checker();
  if (raw === undefined || raw === null) raw = {};
  if (!isPlainObject(raw)) {
    throw new ConfigError([{
      path: "",
      message: `expected a mapping of keys to values, got ${describe(raw)}`,
    }]);
  }
  c.unknownKeys("", raw, CONFIG_KEYS);
  const get = <K extends keyof Config>(key: K): unknown => raw[key as string];
  const has = (key: keyof Config) => Object.hasOwn(raw, key) && raw[key] !== undefined;
  const d = DEFAULTS;

  const subnet = has("subnet") ? c.subnet("subnet", get("subnet")) : d.subnet;
  let dnsListen: readonly string[] | undefined;
  if (has("dnsListen")) dnsListen = c.list("dnsListen", get("dnsListen"), (p, v) => c.listen(p, v));
  else if (subnet !== undefined) {
    // The first host address, which the original edgemesh reserved for its DNS server.
    const cidr = readCidr(subnet, { strict: true, family: 4 });
    if (isCidr(cidr) && cidr.family === 4) {
      dnsListen = [`${formatIpv4(cidr.address + 1)}:${DEFAULT_DNS_PORT}`];
    }
  }

  const pick = <K extends keyof Config>(
    key: K,
    check: (path: string, v: unknown) => Config[K] | undefined,
    fallback: Config[K],
  ): Config[K] | undefined => (has(key) ? check(key, get(key)) : fallback);

  const cfg = {
    nodeName: pick("nodeName", (p, v) => c.nodeName(p, v), options.hostname),
    subnet,
    device: pick("device", (p, v) => c.device(p, v), d.device),
    deviceType: pick("deviceType", (p, v) => c.oneOf(p, v, DEVICE_TYPES), d.deviceType),
    keepDeviceOnExit: pick("keepDeviceOnExit", (p, v) => c.bool(p, v), d.keepDeviceOnExit),
    dnsListen,
    clusterDomain: pick("clusterDomain", (p, v) => c.domain(p, v), d.clusterDomain),
    defaultNamespace: pick("defaultNamespace", (p, v) => c.namespace(p, v), d.defaultNamespace),
    dnsTtl: pick("dnsTtl", (p, v) => c.int(p, v, 0, 3600), d.dnsTtl),
    upstreams: pick("upstreams", (p, v) => c.list(p, v, (q, w) => c.upstream(q, w)), d.upstreams),
    dnsAllowFrom: pick(
      "dnsAllowFrom",
      (p, v) => c.list(p, v, (q, w) => c.allowFrom(q, w)),
      d.dnsAllowFrom,
    ),
    dnsUdpBatching: pick("dnsUdpBatching", (p, v) => c.bool(p, v), d.dnsUdpBatching),
    manageResolvConf: pick("manageResolvConf", (p, v) => c.bool(p, v), d.manageResolvConf),
    resolvConf: pick("resolvConf", (p, v) => c.path(p, v), d.resolvConf),
    controlSocket: pick(
      "controlSocket",
      (p, v) => c.socketPath(p, v, METRICS_SOCKET_SUFFIX.length),
      d.controlSocket,
    ),
    stateDir: pick("stateDir", (p, v) => c.path(p, v), d.stateDir),
    lbStrategy: pick("lbStrategy", (p, v) => c.oneOf(p, v, LB_STRATEGIES), d.lbStrategy),
    dialTimeoutMs: pick("dialTimeoutMs", (p, v) => c.duration(p, v, 1, 300_000), d.dialTimeoutMs),
    dialAttempts: pick("dialAttempts", (p, v) => c.int(p, v, 1, 10), d.dialAttempts),
    ejectCooldownMs: pick(
      "ejectCooldownMs",
      (p, v) => c.duration(p, v, 0, 3_600_000),
      d.ejectCooldownMs,
    ),
    drainGraceMs: pick("drainGraceMs", (p, v) => c.duration(p, v, 0, 3_600_000), d.drainGraceMs),
    proxyThreads: pick(
      "proxyThreads",
      (p, v) =>
        v === "auto"
          ? "auto"
          : typeof v === "string"
          ? c.fail(p, `expected an integer 1-${MAX_PROXY_THREADS} or "auto", got "${v}"`)
          : c.int(p, v, 1, MAX_PROXY_THREADS),
      d.proxyThreads,
    ),
    proxyEngine: pick("proxyEngine", (p, v) => c.oneOf(p, v, PROXY_ENGINES), d.proxyEngine),
    tunnelListen: pick("tunnelListen", (p, v) => c.listen(p, v), d.tunnelListen),
    tunnel: pick("tunnel", (p, v) => c.bool(p, v), d.tunnel),
    tunnelKeyFile: pick("tunnelKeyFile", (p, v) => v === null ? null : c.path(p, v), null),
    tunnelAcceptKeyFiles: pick(
      "tunnelAcceptKeyFiles",
      (p, v) => c.list(p, v, (q, w) => c.path(q, w)),
      d.tunnelAcceptKeyFiles,
    ),
    tunnelTLS: pick("tunnelTLS", (p, v) => v === null ? null : c.tls(p, v), null),
    peers: pick("peers", (p, v) => c.peers(p, v), d.peers),
    metricsListen: pick(
      "metricsListen",
      (p, v) => v === "" ? "" : c.listen(p, v),
      d.metricsListen,
    ),
    logLevel: pick("logLevel", (p, v) => c.oneOf(p, v, LOG_LEVELS), d.logLevel),
    logFormat: pick("logFormat", (p, v) => c.oneOf(p, v, LOG_FORMATS), d.logFormat),
  };
  if (c.issues.length > 0) throw new ConfigError(c.issues);
  return deepFreeze(cfg as Config);
}

/** Collects issues; each check returns the validated value or undefined after recording. */
class Checker {
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

/** Whether `v` is a plain `{…}` object (not an array, null, or class instance). */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** A short human description of a value for messages: `"x"`, `5`, `a list`, `a mapping`. */
export function describe(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return String(v);
}

/** The known key closest to `key` (case-insensitive match or edit distance ≤ 2). */
function suggest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDist = 3;
  for (const k of known) {
    if (k.toLowerCase() === key.toLowerCase()) return k;
    const dist = editDistance(key.toLowerCase(), k.toLowerCase());
    if (dist < bestDist) [best, bestDist] = [k, dist];
  }
  return best;
}

/** Damerau-Levenshtein distance (optimal string alignment), for typo suggestions. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from(
    { length: a.length + 1 },
    (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        v = Math.min(v, d[i - 2]![j - 2]! + 1);
      }
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

function deepFreeze<T>(v: T): T {
  if (typeof v === "object" && v !== null && !Object.isFrozen(v)) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}
