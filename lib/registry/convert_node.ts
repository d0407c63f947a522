// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Conversion of a Kubernetes v1 Node into a `NodeInfo`: its addresses, checked by type (an IP
 * for `InternalIP`/`ExternalIP`, a DNS name for the DNS types). Pure.
 * @module
 */

import { type NodeInfo } from "./model.ts";
import { isDnsName } from "../netaddr/mod.ts";
import { at, describe, optArray, optObj, optString, Problems, rootObj } from "./problems.ts";
import { isIpAddress, meta } from "./convert_fields.ts";

/** Node address types (`NodeAddressType`) whose address is an IP, and those whose is a DNS name. */
const IP_ADDRESS_TYPES: readonly string[] = ["InternalIP", "ExternalIP"];
const DNS_ADDRESS_TYPES: readonly string[] = ["Hostname", "InternalDNS", "ExternalDNS"];

/** Converts one Node; null only when the content is not an object. */
export function nodeOf(content: unknown, want: { name: string }, p: Problems): NodeInfo | null {
  const obj = rootObj(content, "", p);
  if (!obj) return null;
  const md = meta(obj, "", "node", { namespace: null, name: want.name }, p);
  const addresses: { type: string; address: string }[] = [];
  const status = optObj(obj.status, "status", p);
  optArray(status.addresses, at("status", "addresses"), p).forEach((ra, i) => {
    const apath = at(at("status", "addresses"), i);
    const a = rootObj(ra, apath, p);
    if (!a) return;
    const type = optString(a.type, at(apath, "type"), p);
    const address = optString(a.address, at(apath, "address"), p);
    if (type === null) p.type(at(apath, "type"), "is required");
    if (address === null) p.type(at(apath, "address"), "is required");
    if (type === null || address === null) return;
    if (IP_ADDRESS_TYPES.includes(type) && !isIpAddress(address)) {
      p.range(at(apath, "address"), `${describe(address)} is not an IP address (type ${type})`);
    } else if (DNS_ADDRESS_TYPES.includes(type) && !isDnsName(address)) {
      p.range(at(apath, "address"), `${describe(address)} is not a DNS name (type ${type})`);
    } else addresses.push({ type, address });
  });
  return { name: md.name, addresses };
}
