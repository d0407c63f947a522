// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * IPv4 addresses as unsigned 32-bit numbers: parsing of the dotted-quad text form
 * (RFC 791 §3.2, the only form `ip`, Kubernetes and Deno print) and formatting back.
 * @module
 */

/** Options of {@linkcode parseIpv4}. */
export interface Ipv4Options {
  /**
   * Reject octets with leading zeros (`010.0.0.1`), as Go's `net.ParseIP` and glibc's
   * `inet_pton` do: some tools read them as octal, so the text would be ambiguous.
   * @default false
   */
  readonly strict?: boolean;
}

const OCTET = /^\d{1,3}$/;
const STRICT_OCTET = /^(0|[1-9]\d{0,2})$/;

/** Parses a dotted-quad IPv4 address into an unsigned 32-bit number, or null when it is not one. */
export function parseIpv4(text: string, options: Ipv4Options = {}): number | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const octet = options.strict ? STRICT_OCTET : OCTET;
  let n = 0;
  for (const p of parts) {
    if (!octet.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    n = n * 256 + v;
  }
  return n;
}

/** Whether `text` is a dotted-quad IPv4 address. */
export function isIpv4(text: string, options: Ipv4Options = {}): boolean {
  return parseIpv4(text, options) !== null;
}

/** Formats an unsigned 32-bit number as a dotted-quad IPv4 address. */
export function formatIpv4(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** The four network-order bytes of an IPv4 address number (the `in_addr` layout). */
export function ipv4ToBytes(n: number): Uint8Array {
  return new Uint8Array([(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
}

/** The IPv4 address number of four network-order bytes (the first four of `bytes`). */
export function ipv4FromBytes(bytes: Uint8Array): number {
  return ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
}
