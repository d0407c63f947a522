// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * Test certificates made with the `openssl` CLI: a CA and server certificates whose
 * `subjectAltName` carries IP addresses (the tunnel dialer verifies the peer against the
 * address it dials). P-256 keys, valid one day.
 * @module
 */
import { join } from "node:path";

/** Runs `openssl ARGS…` in `cwd`. @throws {Error} with openssl's stderr when it fails */
export async function openssl(args: readonly string[], cwd: string): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args: [...args],
    cwd,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `Cannot run openssl ${args[0]}: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/** Writes a self-signed CA, `ca.key` and `ca.crt`, into `dir`. */
export async function makeCa(dir: string, commonName: string): Promise<void> {
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
      `/CN=${commonName}`,
    ],
    dir,
  );
}

/** What {@linkcode makeServerCert} writes: the certificate and key files. */
export interface ServerCertFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

/**
 * Writes `<name>.key` and `<name>.crt`, signed by the CA of {@linkcode makeCa} in `dir`, with
 * `subjectAltName = IP:<ip>,…`. Distinct `serial`s let several be signed concurrently (no
 * shared serial file).
 */
export async function makeServerCert(
  dir: string,
  cert: {
    readonly name: string;
    readonly commonName: string;
    readonly ips: readonly string[];
    readonly serial: number;
    /** Validity in days. @default 1 */
    readonly days?: number;
  },
): Promise<ServerCertFiles> {
  const { name } = cert;
  await openssl(
    [
      "req",
      ...EC,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-subj",
      `/CN=${cert.commonName}`,
    ],
    dir,
  );
  await Deno.writeTextFile(
    join(dir, `${name}.ext`),
    `subjectAltName=${cert.ips.map((ip) => `IP:${ip}`).join(",")}\n`,
  );
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
      String(cert.serial),
      "-out",
      `${name}.crt`,
      "-days",
      String(cert.days ?? 1),
      "-extfile",
      `${name}.ext`,
    ],
    dir,
  );
  return { certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) };
}
