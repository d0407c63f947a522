// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * End to end over a real Unix socket: an in-process Registry + ControlServer, driven by raw
 * socket writes and by the real CLI (`main.ts ctl …` in a child process).
 */
import assert from "node:assert/strict";
import {
  ControlServer,
  type ControlServerOptions,
  type Reply,
  type StatusInfo,
} from "../../lib/control/mod.ts";
import { nullLogger } from "../../lib/log/mod.ts";
import { Registry } from "../../lib/registry/mod.ts";
import { type CliIo, main } from "../../lib/cli/mod.ts";
import { type ChildOutput, runDeno } from "../_helpers/child.ts";
import { EMULATED } from "../_helpers/emulation.ts";
import { exchange } from "../_helpers/control_socket.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const FIXTURES = new URL("../fixtures/", import.meta.url);
const goodText = await Deno.readTextFile(new URL("kubeedge-messages.ndjson", FIXTURES));
const badText = await Deno.readTextFile(new URL("kubeedge-messages-bad.ndjson", FIXTURES));
const lines = (text: string) => text.split("\n").filter((l) => l.trim() !== "");

/** A control server on `path` over an empty registry stand-in, with a fixed status. */
function stubServer(
  path: string,
  signal: AbortSignal,
  more: Partial<ControlServerOptions> = {},
): Promise<ControlServer> {
  return ControlServer.listen({
    path,
    target: {
      apply: () => Promise.resolve(),
      snapshot: () => ({ version: 0, services: new Map(), nodes: new Map(), vips: new Map() }),
    },
    status: () => ({ node: "n", counts: { services: 0, endpoints: 0, vips: 0, nodes: 0 } }),
    log: nullLogger,
    signal,
    ...more,
  });
}

/** CLI runs that spawn `main.ts` under emulation (≈7 s each there); later ones run in-process. */
const SPAWNED_UNDER_EMULATION = 3;

/**
 * Runs the CLI: `main.ts` in a child process; under emulation only the first few calls, and the
 * rest through the same `main()` in this process with captured streams (the same commands,
 * output and exit codes; the child-process path is proven by the first calls and natively).
 */
function cliRunner(): (args: string[], stdin?: string) => Promise<ChildOutput> {
  let spawned = 0;
  return async (args, stdin) => {
    if (!EMULATED || spawned++ < SPAWNED_UNDER_EMULATION) {
      return runDeno(["run", "-A", "--unstable-net", MAIN, ...args], stdin);
    }
    let stdout = "";
    let stderr = "";
    const io: CliIo = {
      stdout: (text) => void (stdout += text),
      stderr: (text) => void (stderr += text),
      readStdin: () => Promise.resolve(stdin ?? ""),
      env: () => undefined,
    };
    const notHere = () => {
      throw new Error("only ctl runs in-process");
    };
    const code = await main(args, { runAgent: notHere, stopSignal: notHere }, io);
    return { code, stdout, stderr };
  };
}

const EXPECTED_AFTER_FIXTURES = [
  {
    namespace: "cache",
    name: "redis",
    vip: "9.251.0.3",
    ports: [{ name: "redis", protocol: "TCP", port: 6379, targetPort: "redis" }],
    endpoints: [
      { ip: "10.244.1.20", port: 6379, nodeName: "edge-node-1", ready: true },
      { ip: "10.244.2.21", port: 6379, nodeName: "edge-node-2", ready: false },
    ],
  },
  {
    namespace: "default",
    name: "nginx",
    vip: "9.251.0.2",
    ports: [
      { name: "web", protocol: "TCP", port: 80, targetPort: 8080 },
      { name: "metrics", protocol: "TCP", port: 9100, targetPort: "metrics" },
    ],
    endpoints: [
      { ip: "10.244.1.5", port: 8080, nodeName: "edge-node-1", ready: true },
      { ip: "10.244.1.5", port: 9113, nodeName: "edge-node-1", ready: true },
      { ip: "10.244.2.9", port: 8080, nodeName: "edge-node-2", ready: true },
      { ip: "10.244.2.9", port: 9113, nodeName: "edge-node-2", ready: true },
      { ip: "10.244.1.6", port: 8080, nodeName: "edge-node-1", ready: false },
      { ip: "10.244.1.6", port: 9113, nodeName: "edge-node-1", ready: false },
    ],
  },
];

const MULTI_DOC_YAML = `# two services and their endpoints
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  clusterIP: 10.96.0.50
  ports:
    - name: http
      port: 80
      targetPort: http
---
apiVersion: v1
kind: Endpoints
metadata:
  name: web
  namespace: shop
subsets:
  - addresses:
      - ip: 10.244.9.1
        nodeName: edge-node-1
    ports:
      - name: http
        port: 8081
---
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Service
    metadata:
      name: api
    spec:
      ports:
        - port: 443
          targetPort: 8443
  - apiVersion: v1
    kind: Service
    metadata:
      name: broken
      namespace: shop
    spec:
      ports:
        - port: 70000
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: nope
`;

Deno.test("control socket end to end: fixtures, bad lines, ctl get/apply/delete/status", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "em-ctl-e2e-" });
  const sock = `${dir}/run/edgemesh.sock`;
  const registry = await Registry.open({
    stateDir: `${dir}/state`,
    subnet: "9.251.0.0/16",
    log: nullLogger,
  });
  const ac = new AbortController();
  const status = (): StatusInfo => ({
    node: "edge-node-1",
    counts: {
      services: registry.snapshot().services.size,
      endpoints: 0,
      vips: registry.snapshot().vips.size,
      nodes: registry.snapshot().nodes.size,
    },
    lastSync: null,
  });
  const server = await ControlServer.listen({
    path: sock,
    target: registry,
    status,
    log: nullLogger,
    signal: ac.signal,
  });
  const socketArgs = ["ctl", "--socket", sock];
  const cli = cliRunner();
  const getJson = async (...extra: string[]) => {
    const r = await cli([...socketArgs, "get", "services", "-o", "json", ...extra]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  try {
    await t.step("socket directory is 0700 and the socket 0600", async () => {
      assert.equal((await Deno.stat(`${dir}/run`)).mode! & 0o777, 0o700);
      const st = await Deno.lstat(sock);
      assert.ok(st.isSocket);
      assert.equal(st.mode! & 0o777, 0o600);
    });

    await t.step(
      "every fixture line, pipelined in one write, gets an ok reply in order",
      async () => {
        const sent = lines(goodText);
        const replies = await exchange(sock, goodText);
        // The last line deletes default/legacy, which the servicelist before it removed: still
        // ok (deletes are idempotent), with found: false, and unchanged (nothing was written).
        assert.deepEqual(
          replies,
          sent.map((l) => ({
            msg_id: JSON.parse(l).header.msg_id,
            ok: true,
            ...(JSON.parse(l).route.operation === "delete"
              ? { found: false, unchanged: true }
              : {}),
          })),
        );
      },
    );

    await t.step("ctl get services -o json shows the services, VIPs and endpoints", async () => {
      assert.deepEqual(await getJson(), EXPECTED_AFTER_FIXTURES);
      assert.deepEqual(await getJson("-n", "cache"), [EXPECTED_AFTER_FIXTURES[0]]);
    });

    await t.step("ctl get services prints the table", async () => {
      const r = await cli([...socketArgs, "get", "services"]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.split("\n").map((l) => l.trimEnd()), [
        "NAMESPACE   NAME    VIP         PORTS                          ENDPOINTS",
        "cache       redis   9.251.0.3   6379/TCP→redis                 10.244.1.20:6379 (+1 not ready)",
        "default     nginx   9.251.0.2   80/TCP→8080,9100/TCP→metrics   " +
        "10.244.1.5:8080,10.244.1.5:9113,10.244.2.9:8080 +1 more (+2 not ready)",
        "",
      ]);
    });

    await t.step("every bad line gets an error reply and the state is unchanged", async () => {
      const before = await getJson();
      const tooLong = JSON.stringify({
        header: { msg_id: "big" },
        route: { operation: "insert", resource: "default/service/big" },
        content: { pad: "x".repeat(1 << 20) },
      });
      const replies = await exchange(
        sock,
        badText + tooLong + "\n" + goodText.split("\n")[0] + "\n",
      );
      assert.deepEqual(replies.slice(0, 8).map((r) => [r.msg_id, r.ok, r.error]), [
        [null, false, "Cannot parse message: not valid JSON"],
        [
          "x",
          false,
          'Cannot parse message: route.operation "explode" is not one of insert, update, delete, query',
        ],
        [
          "y",
          false,
          'Cannot parse message: route.resource "only-two/tokens" is not <namespace>/<type>/<name> ' +
          "or node/<nodeID>/<namespace>/<type>/<name>",
        ],
        [
          "z",
          false,
          'Cannot apply "default/service/bad": spec.ports[0].port 70000 is out of range',
        ],
        [
          "w",
          false,
          'Cannot parse message: route.resource "default/service/mismatch" does not match the ' +
          'object "kube-system/other"',
        ],
        [null, false, "Cannot parse message: expected a JSON object, got an array"],
        [null, false, "Cannot parse message: not valid JSON"],
        [null, false, "Cannot parse message: line exceeds 1048576 bytes"],
      ]);
      // The connection stayed up after the bad lines: the last (good, idempotent) line is ok,
      // and unchanged: it re-sends an object the agent already holds as sent.
      assert.deepEqual(replies[8], {
        msg_id: "3b0c6f1e-0000-4000-8000-000000000001",
        ok: true,
        unchanged: true,
      });
      assert.equal(replies.length, 9);
      assert.deepEqual(await getJson(), before);
    });

    await t.step("ctl apply -f applies multi-document YAML and reports each object", async () => {
      const file = `${dir}/objects.yaml`;
      await Deno.writeTextFile(file, MULTI_DOC_YAML);
      const r = await cli([...socketArgs, "apply", "-f", file]);
      assert.equal(r.code, 1, "one object failed");
      assert.equal(
        r.stdout,
        "service/shop/web configured\nendpoints/shop/web configured\nservice/default/api configured\n",
      );
      const errors = r.stderr.trimEnd().split("\n");
      assert.equal(errors.length, 2, r.stderr);
      // The agent's rejection starts as every line about a document does: file, document, object.
      assert.ok(
        errors[0]!.startsWith(
          `${file}: document 3 item 2: service/shop/broken: Cannot apply "shop/service/broken": `,
        ),
        errors[0],
      );
      assert.equal(
        errors[1],
        `${file}: document 4: kind "Deployment" is not supported (Service, Endpoints, EndpointSlice, Pod, Node)`,
      );
      const views = await getJson();
      const web = views.find((v: { name: string }) => v.name === "web");
      assert.deepEqual(web.endpoints, [
        { ip: "10.244.9.1", port: 8081, nodeName: "edge-node-1", ready: true },
      ]);
      assert.match(web.vip, /^9\.251\.0\.\d+$/);
      assert.ok(
        views.some((v: { namespace: string; name: string }) =>
          v.namespace === "default" && v.name === "api"
        ),
      );
      assert.ok(!views.some((v: { name: string }) => v.name === "broken"));
    });

    await t.step("ctl apply -f - reads JSON from stdin", async () => {
      const svc = {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "stdin-svc", namespace: "default" },
        spec: { ports: [{ port: 8000 }] },
      };
      const r = await cli([...socketArgs, "apply", "-f", "-"], JSON.stringify(svc));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "service/default/stdin-svc configured\n");
    });

    await t.step("ctl delete removes services", async () => {
      const r = await cli([...socketArgs, "delete", "service", "default/api", "stdin-svc"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "service/default/api deleted\nservice/default/stdin-svc deleted\n");
      const names = (await getJson()).map((v: { namespace: string; name: string }) =>
        `${v.namespace}/${v.name}`
      );
      assert.deepEqual(names, ["cache/redis", "default/nginx", "shop/web"]);
    });

    await t.step("ctl delete of a service that is gone: NotFound, exit 1", async () => {
      const r = await cli([...socketArgs, "delete", "service", "default/api"]);
      assert.deepEqual(r, {
        code: 1,
        stdout: "",
        stderr: 'edgemesh: service "default/api" not found\n',
      });
    });

    await t.step("ctl status shows the agent's status", async () => {
      const r = await cli([...socketArgs, "status"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Node: +edge-node-1$/m);
      assert.match(r.stdout, /^Services: +3 \(3 with a VIP\)$/m);
      assert.match(r.stdout, /^Device: +-$/m);
      const j = await cli([...socketArgs, "status", "-o", "json"]);
      assert.equal(JSON.parse(j.stdout).node, "edge-node-1");
    });

    await t.step("a second server on the live socket refuses to start", async () => {
      await assert.rejects(
        () => ControlServer.listen({ path: sock, target: registry, status, log: nullLogger }),
        {
          name: "SocketInUseError",
          message:
            `Cannot listen on control socket "${sock}": another edgemesh agent is already listening there`,
        },
      );
      // The refused start did not disturb the live server.
      assert.equal((await getJson()).length, 3);
    });
  } finally {
    ac.abort();
    await server.close();
    await registry.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ControlServer replaces a stale socket and removes its socket on abort", async () => {
  const dir = await Deno.makeTempDir({ prefix: "em-ctl-stale-" });
  try {
    const path = `${dir}/edgemesh.sock`;
    // A crashed run (SIGKILL, so nothing cleans up) leaves a socket file nobody accepts on.
    const crashed = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `const l = Deno.listen({ transport: "unix", path: ${JSON.stringify(path)} }); ` +
        `await Deno.stdout.write(new TextEncoder().encode("listening\\n")); ` +
        `await l.accept();`,
      ],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const reader = crashed.stdout.getReader();
    await reader.read(); // "listening"
    crashed.kill("SIGKILL");
    await crashed.status;
    reader.releaseLock();
    await crashed.stdout.cancel();
    assert.ok((await Deno.lstat(path)).isSocket);
    const ac = new AbortController();
    const server = await stubServer(path, ac.signal);
    const replies = await exchange(
      path,
      '{"route":{"operation":"query","resource":"*/status/*"}}\n',
    );
    assert.equal(replies[0]!.ok, true);
    assert.equal((replies[0]!.content as StatusInfo).node, "n");
    ac.abort();
    await server.close();
    await assert.rejects(() => Deno.lstat(path), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ControlServer refuses a path that is not a socket", async () => {
  const dir = await Deno.makeTempDir({ prefix: "em-ctl-file-" });
  try {
    const path = `${dir}/edgemesh.sock`;
    await Deno.writeTextFile(path, "not a socket");
    await assert.rejects(
      () =>
        ControlServer.listen({
          path,
          target: { apply: () => Promise.resolve(), snapshot: () => ({}) as never },
          status: () => ({}) as never,
          log: nullLogger,
        }),
      { message: `Cannot listen on control socket "${path}": the path exists and is not a socket` },
    );
    assert.equal(await Deno.readTextFile(path), "not a socket");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ControlServer answers connections over maxConnections with an error and closes them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "em-ctl-max-" });
  try {
    const path = `${dir}/edgemesh.sock`;
    const ac = new AbortController();
    const server = await stubServer(path, ac.signal, { maxConnections: 2 });
    const query = new TextEncoder().encode(
      '{"route":{"operation":"query","resource":"*/status/*"}}\n',
    );
    // Two held connections, each proven served by one reply.
    const held: Deno.UnixConn[] = [];
    for (let i = 0; i < 2; i++) {
      const c = await Deno.connect({ transport: "unix", path });
      held.push(c);
      await c.write(query);
      const buf = new Uint8Array(4096);
      const n = await c.read(buf);
      assert.equal(JSON.parse(new TextDecoder().decode(buf.subarray(0, n!))).ok, true);
    }
    const [refused] = await exchange(path, new TextDecoder().decode(query));
    assert.equal(refused!.ok, false);
    assert.match(
      refused!.error!,
      /^Cannot serve this connection: 2 control connections are open \(the limit\)/,
    );
    // One closes: the next connection is served again.
    held.pop()!.close();
    let served: Reply[] = [];
    for (let i = 0; i < 100 && served[0]?.ok !== true; i++) {
      served = await exchange(path, new TextDecoder().decode(query)); // its close may still be in flight
    }
    assert.equal(served[0]!.ok, true);
    for (const c of held) c.close();
    ac.abort();
    await server.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
