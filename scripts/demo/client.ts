// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The demo's client (`make demo`), run inside node A's namespace:
 *
 * - `client.ts resolve NAME DNS_IP` asks the agent's DNS server for NAME's A record and
 *   prints the addresses, one per line.
 * - `client.ts get NAME DNS_IP PORT COUNT` resolves NAME the same way, then sends COUNT HTTP
 *   requests to it, each on a new connection (the proxy balances connections, not requests),
 *   and prints each answer.
 * @module
 */
// deno-lint-ignore-file no-console

async function resolve(name: string, dns: string): Promise<string[]> {
  return await Deno.resolveDns(name, "A", { nameServer: { ipAddr: dns, port: 53 } });
}

async function get(name: string, dns: string, port: number, count: number): Promise<void> {
  const [vip] = await resolve(name, dns);
  if (vip === undefined) throw new Error(`Cannot reach "${name}": the DNS answer is empty`);
  for (let i = 1; i <= count; i++) {
    // A client per request: a new TCP connection each time, so each one is balanced.
    const client = Deno.createHttpClient({});
    try {
      const res = await fetch(`http://${vip}:${port}/`, { client });
      console.log(`   ${i}. ${(await res.text()).trim()}`);
    } catch (err) {
      console.log(`   ${i}. failed: ${(err as Error).message}`);
    } finally {
      client.close();
    }
  }
}

if (import.meta.main) {
  const [mode, name, dns, port, count] = Deno.args;
  if (mode === "resolve" && name && dns) {
    for (const a of await resolve(name, dns)) console.log(a);
  } else if (mode === "get" && name && dns) {
    await get(name, dns, Number(port ?? 80), Number(count ?? 6));
  } else {
    throw new TypeError("Cannot run the demo client: usage is client.ts resolve|get NAME DNS_IP …");
  }
}
