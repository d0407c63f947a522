// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Test certificates for the agent tunnel test, made with the `openssl` CLI: one CA and, per
 * node, a server certificate whose `subjectAltName` is the node's IP (the dialer verifies
 * the peer against the address it dials).
 * @module
 */
import { join } from "node:path";
import { makeCa, makeServerCert } from "../../_helpers/pki.ts";

/** The files of one node's `tunnelTLS`. */
export interface NodeTls {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
}

/** Writes `ca.crt` and `<name>.crt`/`<name>.key` per node into `dir`; returns each node's files. */
export async function makeNodeTls(
  dir: string,
  nodes: readonly { readonly name: string; readonly ip: string }[],
): Promise<Record<string, NodeTls>> {
  await makeCa(dir, "em-ca");
  const out: Record<string, NodeTls> = {};
  await Promise.all(nodes.map(async ({ name, ip }, i) => {
    const files = await makeServerCert(dir, { name, commonName: name, ips: [ip], serial: i + 2 });
    out[name] = { ...files, caFile: join(dir, "ca.crt") };
  }));
  return out;
}
