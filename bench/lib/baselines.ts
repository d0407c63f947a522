// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * The systems edgemesh is compared with, and the backends behind all of them: configuration
 * text (pure) and the processes (iperf3 server, nginx HTTP backend, HAProxy in TCP mode with
 * splice, nginx stream proxy, dnsmasq).
 * @module
 */
import { join } from "node:path";
import { type Proc, sleep, spawnLogged } from "./proc.ts";
import { tcpAccepts } from "./net.ts";

/** `host:port` of one listener. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** A TCP forward a proxy baseline sets up: listen on `listen`, forward to `backend`. */
export interface Forward {
  readonly name: string;
  readonly listen: HostPort;
  readonly backend: HostPort;
}

/**
 * HAProxy configuration: TCP mode, splice both ways (`option splice-request`,
 * `option splice-response`), no health checks, threads = CPUs (HAProxy's default).
 */
export function haproxyConfig(forwards: readonly Forward[]): string {
  const lines = [
    "global",
    "  maxconn 4096",
    "defaults",
    "  mode tcp",
    "  option splice-request",
    "  option splice-response",
    "  timeout connect 2s",
    "  timeout client 60s",
    "  timeout server 60s",
  ];
  for (const f of forwards) {
    lines.push(
      `frontend f_${f.name}`,
      `  bind ${f.listen.host}:${f.listen.port}`,
      `  default_backend b_${f.name}`,
      `backend b_${f.name}`,
      `  server s1 ${f.backend.host}:${f.backend.port}`,
    );
  }
  return lines.join("\n") + "\n";
}

/** nginx `stream` proxy configuration, `worker_processes auto` (one per CPU). */
export function nginxStreamConfig(dir: string, forwards: readonly Forward[]): string {
  return [
    "load_module /usr/lib/nginx/modules/ngx_stream_module.so;",
    "worker_processes auto;",
    "daemon off;",
    `pid ${join(dir, "nginx-stream.pid")};`,
    `error_log ${join(dir, "nginx-stream.err")} warn;`,
    "events { worker_connections 8192; multi_accept on; }",
    "stream {",
    ...forwards.map((f) =>
      `  server { listen ${f.listen.host}:${f.listen.port} reuseport; ` +
      `proxy_pass ${f.backend.host}:${f.backend.port}; }`
    ),
    "}",
  ].join("\n") + "\n";
}

/**
 * The HTTP backend: one nginx worker answering every request with a 3-byte `200`, keep-alive
 * without a request limit, no access log.
 */
export function nginxBackendConfig(dir: string, listen: HostPort): string {
  return [
    "worker_processes 1;",
    "daemon off;",
    `pid ${join(dir, "nginx-backend.pid")};`,
    `error_log ${join(dir, "nginx-backend.err")} warn;`,
    "events { worker_connections 8192; }",
    "http {",
    "  access_log off;",
    "  keepalive_requests 1000000;",
    `  client_body_temp_path ${join(dir, "nginx-tmp")};`,
    `  proxy_temp_path ${join(dir, "nginx-tmp")};`,
    `  fastcgi_temp_path ${join(dir, "nginx-tmp")};`,
    `  uwsgi_temp_path ${join(dir, "nginx-tmp")};`,
    `  scgi_temp_path ${join(dir, "nginx-tmp")};`,
    `  server { listen ${listen.host}:${listen.port}; location / { return 200 "ok\\n"; } }`,
    "}",
  ].join("\n") + "\n";
}

/** A hosts file (`addr name` lines). */
export function hostsFile(entries: ReadonlyMap<string, string>): string {
  return [...entries].map(([name, addr]) => `${addr} ${name}`).join("\n") + "\n";
}

/** dnsmasq arguments: foreground, no system files, names from `hostsPath`, forwarding to `server`. */
export function dnsmasqArgs(
  listen: string,
  hostsPath: string,
  options: { server?: string; localTtl: number },
): string[] {
  return [
    "dnsmasq",
    "--keep-in-foreground",
    "--conf-file=/dev/null",
    "--no-resolv",
    "--no-hosts",
    `--addn-hosts=${hostsPath}`,
    `--listen-address=${listen}`,
    "--bind-interfaces",
    "--port=53",
    `--local-ttl=${options.localTtl}`,
    "--cache-size=10000",
    "--dns-forward-max=1000",
    "--pid-file=",
    "--user=root",
    ...(options.server === undefined ? [] : [`--server=${options.server}`]),
  ];
}

/** Starts nginx with `config` written to `dir/<name>.conf` and waits for `probe` to accept. */
export async function startNginx(
  dir: string,
  name: string,
  config: string,
  probe: HostPort,
): Promise<Proc> {
  await Deno.mkdir(join(dir, "nginx-tmp"), { recursive: true });
  const path = join(dir, `${name}.conf`);
  await Deno.writeTextFile(path, config);
  const proc = spawnLogged(
    name,
    ["nginx", "-p", dir, "-e", join(dir, `${name}.err`), "-c", path],
    join(dir, `${name}.log`),
  );
  await waitUp(proc, probe);
  return proc;
}

/** Starts HAProxy in the foreground (`-db`) and waits for `probe` to accept. */
export async function startHaproxy(dir: string, config: string, probe: HostPort): Promise<Proc> {
  const path = join(dir, "haproxy.cfg");
  await Deno.writeTextFile(path, config);
  const proc = spawnLogged("haproxy", ["haproxy", "-db", "-f", path], join(dir, "haproxy.log"));
  await waitUp(proc, probe);
  return proc;
}

/** Starts an iperf3 server bound to `listen`. */
export async function startIperfServer(dir: string, listen: HostPort): Promise<Proc> {
  const proc = spawnLogged(
    "iperf3-server",
    ["iperf3", "-s", "-B", listen.host, "-p", String(listen.port)],
    join(dir, "iperf3-server.log"),
  );
  await waitUp(proc, listen);
  return proc;
}

/** Starts dnsmasq with `args` (from {@linkcode dnsmasqArgs}) and waits for its TCP port. */
export async function startDnsmasq(
  dir: string,
  name: string,
  args: readonly string[],
  listen: string,
): Promise<Proc> {
  const proc = spawnLogged(name, args, join(dir, `${name}.log`));
  await waitUp(proc, { host: listen, port: 53 });
  return proc;
}

async function waitUp(proc: Proc, probe: HostPort): Promise<void> {
  const start = performance.now();
  while (!(await tcpAccepts(probe.host, probe.port))) {
    if (proc.done()) {
      throw new Error(`Cannot start ${proc.name}: it exited\n${proc.tail(10)}`);
    }
    if (performance.now() - start > 15_000) {
      throw new Error(
        `Cannot start ${proc.name}: ${probe.host}:${probe.port} not accepting\n${proc.tail(10)}`,
      );
    }
    await sleep(20);
  }
}

/**
 * Namespace-local TCP settings for back-to-back short-connection runs: hundreds of thousands of
 * connections per run leave TIME_WAIT sockets (60 s each) that exhaust the default ephemeral
 * range, and `connect()` then spends its time searching for a free port — every system slows
 * down, whichever runs next. A wider port range, `tcp_tw_reuse=1` and a bounded TIME_WAIT table
 * keep runs independent. These sysctls are per network namespace; the host's stay untouched.
 */
export const NETNS_SYSCTLS: readonly string[] = [
  "net.ipv4.ip_local_port_range=1024 65000",
  "net.ipv4.tcp_tw_reuse=1",
  "net.ipv4.tcp_max_tw_buckets=16384",
];
