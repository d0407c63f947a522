// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Mnemonics of record type codes, for logs and metrics: the IANA "Resource Record (RR) TYPEs"
 * registry (RFC 6895 §3.1) for the types one meets in queries; any other code is spelled
 * `UNKNOWN_<code>`.
 * @module
 */

const NAMES: ReadonlyMap<number, string> = new Map([
  [1, "A"],
  [2, "NS"],
  [5, "CNAME"],
  [6, "SOA"],
  [10, "NULL"],
  [12, "PTR"],
  [13, "HINFO"],
  [15, "MX"],
  [16, "TXT"],
  [17, "RP"],
  [18, "AFSDB"],
  [24, "SIG"],
  [25, "KEY"],
  [28, "AAAA"],
  [29, "LOC"],
  [33, "SRV"],
  [35, "NAPTR"],
  [36, "KX"],
  [37, "CERT"],
  [39, "DNAME"],
  [41, "OPT"],
  [42, "APL"],
  [43, "DS"],
  [44, "SSHFP"],
  [45, "IPSECKEY"],
  [46, "RRSIG"],
  [47, "NSEC"],
  [48, "DNSKEY"],
  [49, "DHCID"],
  [50, "NSEC3"],
  [51, "NSEC3PARAM"],
  [52, "TLSA"],
  [55, "HIP"],
  [59, "CDS"],
  [60, "CDNSKEY"],
  [64, "SVCB"],
  [65, "HTTPS"],
  [99, "SPF"],
  [249, "TKEY"],
  [250, "TSIG"],
  [251, "IXFR"],
  [252, "AXFR"],
  [255, "ANY"],
  [257, "CAA"],
  [32768, "TA"],
  [32769, "DLV"],
]);

/** The mnemonic of a type code (`A`, `SRV`), or `UNKNOWN_<code>`. */
export function typeName(code: number): string {
  return NAMES.get(code) ?? `UNKNOWN_${code}`;
}
