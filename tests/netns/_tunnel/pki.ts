// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Test certificates for the agent tunnel test, made with the `openssl` CLI: one CA and, per
 * node, a server certificate whose `subjectAltName` is the node's IP (the dialer verifies
 * the peer against the address it dials).
 * @module
 */
import { join } from "node:path";

/** The files of one node's `tunnelTLS`. */
export interface NodeTls {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
}

async function openssl(args: readonly string[], cwd: string): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args: [...args],
    cwd,
    stdout: "null",
    stderr: "piped",
  })
    .output();
  if (!out.success) {
    throw new Error(
      `Cannot run openssl ${args[0]}: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/** Writes `ca.crt` and `<name>.crt`/`<name>.key` per node into `dir`; returns each node's files. */
export async function makeNodeTls(
  dir: string,
  nodes: readonly { readonly name: string; readonly ip: string }[],
): Promise<Record<string, NodeTls>> {
  await openssl(
    [
      "req",
      "-x509",
      ...EC,
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
      "-days",
      "1",
      "-subj",
      "/CN=em-ca",
    ],
    dir,
  );
  const out: Record<string, NodeTls> = {};
  await Promise.all(nodes.map(async ({ name, ip }, i) => {
    await openssl(
      ["req", ...EC, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`],
      dir,
    );
    await Deno.writeTextFile(join(dir, `${name}.ext`), `subjectAltName=IP:${ip}\n`);
    await openssl(
      [
        "x509",
        "-req",
        "-in",
        `${name}.csr`,
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-set_serial",
        String(i + 2),
        "-out",
        `${name}.crt`,
        "-days",
        "1",
        "-extfile",
        `${name}.ext`,
      ],
      dir,
    );
    out[name] = {
      certFile: join(dir, `${name}.crt`),
      keyFile: join(dir, `${name}.key`),
      caFile: join(dir, "ca.crt"),
    };
  }));
  return out;
}
