// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * IP addresses, CIDR prefixes and `host:port` text: one implementation for every module that
 * reads them (VIP pool, VIP device, DNS allow list and forwarding, config, tunnel, metrics).
 *
 * Pure and dependency-free. Addresses are typed values (`IpAddress`, `Cidr`, `HostPort`), never
 * strings to be re-inspected. Each parser comes in two shapes: `read*` returns the value or the
 * problem as data (validators that collect every issue, callers with their own messages), and
 * `parse*` throws `SyntaxError`/`RangeError` with `Cannot parse …: …` messages. The policies the
 * callers differ on (default port, port 0, names, IPv6, host bits, leading zeros) are options.
 * @module
 */
export {
  formatIpv4,
  ipv4FromBytes,
  type Ipv4Options,
  ipv4ToBytes,
  isIpv4,
  parseIpv4,
} from "./ipv4.ts";
export { bindAdvice, bindError, type BindTarget, withBindAdvice } from "./bind_error.ts";
export { formatIpv6, type Ipv6Options, ipv6ToBytes, isIpv6, parseIpv6 } from "./ipv6.ts";
export {
  formatIp,
  type IpAddress,
  ipBits,
  type IpOptions,
  type Ipv4Address,
  type Ipv6Address,
  parseIp,
  unmapIpv4,
} from "./ip.ts";
export { SPECIAL_IP_TEXT, type SpecialIpKind, specialIpKind, specialIpProblem } from "./special.ts";
export {
  type Cidr,
  cidrContains,
  type CidrOptions,
  type CidrProblem,
  formatCidr,
  type Ipv4Cidr,
  ipv4CidrSize,
  type Ipv6Cidr,
  isCidr,
  maskCidr,
  parseCidr,
  readCidr,
} from "./cidr.ts";
export {
  formatHostPort,
  type HostKind,
  type HostPort,
  type HostPortOptions,
  type HostPortProblem,
  isDnsName,
  isHostPort,
  MAX_PORT,
  parseHostPort,
  readHostPort,
} from "./host_port.ts";
