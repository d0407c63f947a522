// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * `edgemesh ctl` in-process (through `main()` with captured streams) against fake agents:
 * malformed and mismatched replies, silence and `--timeout`, repeated `-f`, the namespace
 * check, `get NS/NAME`, and the wording of read and connect errors.
 */
import assert from "node:assert/strict";
import { edgemesh } from "../_helpers/cli.ts";
import {
  type FakeAgent,
  msgIdOf,
  okReplyTo,
  type Respond,
  startFakeAgent,
} from "../_helpers/fake_control.ts";

/** A temp dir with a fake agent at `<dir>/fake.sock`, removed after `fn`. */
async function withFake(
  respond: Respond,
  fn: (fake: FakeAgent, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "em-ctl-" });
  const fake = startFakeAgent(`${dir}/fake.sock`, respond);
  try {
    await fn(fake, dir);
  } finally {
    await fake.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const STATUS = { node: "n1", counts: { services: 0, endpoints: 0, vips: 0, nodes: 0 } };

/** The resources of the messages a fake received, in order. */
const resources = (fake: FakeAgent) => fake.received.map((l) => JSON.parse(l).route.resource);

Deno.test("ctl reports unusable replies clearly and exits 1", async (t) => {
  const rows: { name: string; args: string[]; respond: Respond; stderr: RegExp }[] = [
    {
      name: "garbage",
      args: ["status"],
      respond: () => "garbage",
      stderr: /^edgemesh: Cannot read the agent's reply: not valid JSON: garbage\n$/,
    },
    {
      name: "another msg_id",
      args: ["status"],
      respond: () => '{"msg_id":"zzz","ok":true,"content":{}}',
      stderr:
        /^edgemesh: Cannot read the agent's reply: its msg_id "zzz" does not match the request's "[0-9a-f-]{36}" \(protocol error\)\n$/,
    },
    {
      name: "status content of the wrong shape",
      args: ["status"],
      respond: (l) => okReplyTo(l, {}),
      stderr: /^edgemesh: Cannot read the agent's reply: content\.node is missing\n$/,
    },
    {
      name: "status counts of the wrong type",
      args: ["status", "-o", "json"],
      respond: (l) => okReplyTo(l, { node: "n", counts: { services: "3" } }),
      stderr:
        /^edgemesh: Cannot read the agent's reply: content\.counts\.services must be a number, got a string\n$/,
    },
    {
      name: "get content that is not a list",
      args: ["get", "services"],
      respond: (l) => okReplyTo(l, {}),
      stderr:
        /^edgemesh: Cannot read the agent's reply: content must be an array, got an object\n$/,
    },
    {
      name: "get with a malformed service",
      args: ["get", "services", "-o", "json"],
      respond: (l) =>
        okReplyTo(l, [{ namespace: "a", name: "b", vip: null, ports: [{}], endpoints: [] }]),
      stderr:
        /^edgemesh: Cannot read the agent's reply: content\[0\]\.ports\[0\]\.name is missing\n$/,
    },
    {
      name: "get with a proxyName that is not a string",
      args: ["get", "services"],
      respond: (l) =>
        okReplyTo(l, [{
          namespace: "a",
          name: "b",
          vip: null,
          proxyName: 1,
          ports: [],
          endpoints: [],
        }]),
      stderr:
        /^edgemesh: Cannot read the agent's reply: content\[0\]\.proxyName must be a string, got a number\n$/,
    },
    {
      name: "apply with garbage replies",
      args: ["apply", "-f", "SVC"],
      respond: () => "garbage",
      stderr: /^edgemesh: Cannot read the agent's reply: not valid JSON: garbage\n$/,
    },
  ];
  for (const row of rows) {
    await t.step(row.name, async () => {
      await withFake(row.respond, async (fake, dir) => {
        const file = `${dir}/svc.yaml`;
        await Deno.writeTextFile(
          file,
          "kind: Service\nmetadata: {name: s1}\n---\nkind: Service\nmetadata: {name: s2}\n",
        );
        const args = row.args.map((a) => a === "SVC" ? file : a);
        const r = await edgemesh(["ctl", "--socket", fake.path, ...args]);
        assert.equal(r.code, 1);
        assert.match(r.stderr, row.stderr);
        assert.equal(r.stdout, "");
      });
    });
  }
});

Deno.test("ctl status accepts a well-formed reply with only the required fields", async () => {
  await withFake((l) => okReplyTo(l, STATUS), async (fake) => {
    const text = await edgemesh(["ctl", "--socket", fake.path, "status", "--timeout", "0"]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^Node: +n1$/m);
    assert.match(text.stdout, /^Peers: +-$/m);
    const json = await edgemesh(["ctl", "--socket", fake.path, "status", "-o", "json"]);
    assert.deepEqual(JSON.parse(json.stdout), STATUS);
  });
});

Deno.test("ctl status shows the commit the agent reports, and -o json passes it on", async () => {
  const commit = "4c8ed3b5e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7";
  const status = { ...STATUS, version: "0.1.0", build: { commit, source: "build", dirty: false } };
  await withFake((l) => okReplyTo(l, status), async (fake) => {
    const text = await edgemesh(["ctl", "--socket", fake.path, "status"]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      new RegExp(`^Version: +0\\.1\\.0\nCommit: +${commit} \\(build\\)$`, "m"),
    );
    const json = await edgemesh(["ctl", "--socket", fake.path, "status", "-o", "json"]);
    assert.deepEqual(JSON.parse(json.stdout).build, status.build);
  });
  const bad = { ...STATUS, build: { commit: 7 } };
  await withFake((l) => okReplyTo(l, bad), async (fake) => {
    const r = await edgemesh(["ctl", "--socket", fake.path, "status"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /content\.build\.commit must be a string/);
  });
});

Deno.test("ctl --timeout ends the wait for a silent agent", async (t) => {
  const rows: [string, string[]][] = [
    ["before the command", ["--timeout", "50", "status"]],
    ["after the command, with a unit", ["get", "services", "--timeout", "0.05s"]],
    ["apply", ["apply", "-f", "SVC", "--timeout=50ms"]],
  ];
  for (const [name, args] of rows) {
    await t.step(name, async () => {
      await withFake(() => null, async (fake, dir) => {
        const file = `${dir}/svc.yaml`;
        await Deno.writeTextFile(file, "kind: Service\nmetadata: {name: a}\n");
        const r = await edgemesh([
          "ctl",
          "--socket",
          fake.path,
          ...args.map((a) => a === "SVC" ? file : a),
        ]);
        assert.equal(r.code, 1);
        assert.equal(
          r.stderr,
          `edgemesh: No reply from the agent on control socket "${fake.path}" within 50 ms ` +
            "(see --timeout)\n",
        );
        assert.equal(fake.received.length, 1, "the request was sent");
      });
    });
  }
});

Deno.test("ctl usage errors for the new flags and arguments: one line, exit 2", async (t) => {
  const rows: [string[], string][] = [
    [[], "edgemesh: missing command (run, ctl, version) (see edgemesh --help)"],
    [
      ["ctl", "--timeout", "soon", "status"],
      'edgemesh: flag --timeout: "soon" is not a duration (milliseconds, or a number with ms, s or m) (see edgemesh ctl status --help)',
    ],
    [
      ["ctl", "get", "services", "--timeout", "1.5"],
      'edgemesh: flag --timeout: "1.5" is not a duration (milliseconds, or a number with ms, s or m) (see edgemesh ctl get --help)',
    ],
    [
      ["ctl", "status", "--timeout", "30d"],
      'edgemesh: flag --timeout: "30d" is not a duration (milliseconds, or a number with ms, s or m) (see edgemesh ctl status --help)',
    ],
    [
      ["ctl", "status", "--timeout", "9999999999"],
      'edgemesh: flag --timeout: "9999999999" is too long (at most 2147483647 ms) (see edgemesh ctl status --help)',
    ],
    [
      ["ctl", "get", "services", "a/b/c"],
      'edgemesh: bad name "a/b/c" (expected NS/NAME or NAME) (see edgemesh ctl get --help)',
    ],
    [
      ["ctl", "get", "services", "/x"],
      'edgemesh: bad name "/x" (expected NS/NAME or NAME) (see edgemesh ctl get --help)',
    ],
    [
      ["ctl", "apply", "-f", "-", "-f", "-"],
      "edgemesh: -f - (standard input) can be given only once (see edgemesh ctl apply --help)",
    ],
  ];
  for (const [args, want] of rows) {
    await t.step(args.join(" ") || "(no arguments)", async () => {
      const r = await edgemesh(args);
      assert.equal(r.code, 2);
      assert.equal(r.stderr, want + "\n");
      assert.equal(r.stdout, "");
    });
  }
});

Deno.test("ctl get services [NS/]NAME queries one service; -o json stays an array", async (t) => {
  const view = {
    namespace: "pipe",
    name: "s0",
    vip: "9.251.0.2",
    ports: [{ name: "", protocol: "TCP", port: 80, targetPort: 8080 }],
    endpoints: [{ ip: "10.0.0.1", port: 8080, nodeName: null, ready: true }],
  };
  const rows: [string[], string][] = [
    [["get", "services", "pipe/s0"], "pipe/services/s0"],
    [["get", "svc", "s0"], "*/services/s0"],
    [["get", "services", "s0", "-n", "pipe"], "pipe/services/s0"],
    [["get", "endpoints", "pipe/s0", "-n", "pipe"], "pipe/endpoints/s0"],
    [["get", "services", "-n", "pipe"], "pipe/services/*"],
    [["get", "services"], "*/services/*"],
  ];
  for (const [args, resource] of rows) {
    await t.step(args.join(" "), async () => {
      await withFake((l) => okReplyTo(l, [view]), async (fake) => {
        const r = await edgemesh(["ctl", "--socket", fake.path, ...args, "-o", "json"]);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(JSON.parse(r.stdout), [view]);
        assert.deepEqual(resources(fake), [resource]);
      });
    });
  }
  await t.step("NS/NAME against another -n is a usage error", async () => {
    const r = await edgemesh([
      "ctl",
      "-s",
      "/nonexistent.sock",
      "get",
      "endpoints",
      "pipe/s0",
      "-n",
      "other",
    ]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /"pipe\/s0" names namespace "pipe", but -n says "other"/);
  });
  await t.step(
    "a name that does not exist: not found, exit 1 (-o json: an empty array)",
    async () => {
      await withFake((l) => okReplyTo(l, []), async (fake) => {
        const json = await edgemesh([
          "ctl",
          "-s",
          fake.path,
          "get",
          "services",
          "a/none",
          "-o",
          "json",
        ]);
        assert.equal(json.code, 1);
        assert.deepEqual(JSON.parse(json.stdout), []);
        assert.equal(json.stderr, 'edgemesh: service "a/none" not found\n');
        const table = await edgemesh(["ctl", "-s", fake.path, "get", "services", "a/none"]);
        assert.equal(table.code, 1);
        assert.equal(table.stderr, 'edgemesh: service "a/none" not found\n');
        assert.deepEqual(resources(fake), ["a/services/none", "a/services/none"]);
      });
    },
  );
  await t.step("a NAME without NS/ or -n: not found in any namespace, exit 1", async () => {
    await withFake((l) => okReplyTo(l, []), async (fake) => {
      for (const output of [[], ["-o", "json"]]) {
        const r = await edgemesh(["ctl", "-s", fake.path, "get", "services", "nosuch", ...output]);
        assert.equal(r.code, 1);
        assert.equal(r.stderr, 'edgemesh: service "nosuch" not found in any namespace\n');
        assert.equal(r.stdout, output.length > 0 ? "[]\n" : "");
      }
      const n = await edgemesh(["ctl", "-s", fake.path, "get", "svc", "nosuch", "-n", "default"]);
      assert.equal(n.code, 1);
      assert.equal(n.stderr, 'edgemesh: service "default/nosuch" not found\n');
      assert.deepEqual(resources(fake), [
        "*/services/nosuch",
        "*/services/nosuch",
        "default/services/nosuch",
      ]);
    });
  });
});

Deno.test("ctl apply -f A -f B applies every file in order on one connection", async () => {
  await withFake((l) => okReplyTo(l), async (fake, dir) => {
    const a = `${dir}/a.yaml`;
    const b = `${dir}/b.json`;
    await Deno.writeTextFile(
      a,
      "kind: Service\nmetadata: {name: web}\n---\nkind: Endpoints\nmetadata: {name: web}\n",
    );
    await Deno.writeTextFile(b, '{"kind":"Node","metadata":{"name":"edge-1"}}');
    const r = await edgemesh(["ctl", "--socket", fake.path, "apply", "-f", a, "--filename", b]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      "service/default/web configured\nendpoints/default/web configured\nnode/edge-1 configured\n",
    );
    assert.deepEqual(resources(fake), [
      "default/service/web",
      "default/endpoints/web",
      "default/node/edge-1",
    ]);
    assert.equal(fake.connections(), 1);
  });
});

Deno.test("ctl apply says how far it got when the agent goes away mid-apply", async () => {
  let n = 0;
  // The fake answers two objects, then drops the connection (an agent stopped by SIGTERM).
  const respond = (l: string) => {
    if (++n > 2) throw new Error("the agent stops");
    return okReplyTo(l);
  };
  await withFake(respond, async (fake, dir) => {
    const a = `${dir}/a.yaml`;
    await Deno.writeTextFile(
      a,
      ["a", "b", "c", "d"].map((x) => `kind: Service\nmetadata: {name: ${x}}\n`).join("---\n"),
    );
    const r = await edgemesh(["ctl", "--socket", fake.path, "apply", "-f", a]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "service/default/a configured\nservice/default/b configured\n");
    assert.match(
      r.stderr,
      /^edgemesh: .*(closed by the agent|the agent closed the connection).*; 2 of 4 objects were answered \(the lines above\), the others may or may not be applied: run the same apply again once the agent is back \(applying is idempotent\)\n$/,
    );
  });
});

Deno.test("ctl apply -n refuses objects of another namespace and applies nothing", async (t) => {
  const rows: { name: string; files: Record<string, string>; stderr: string[] }[] = [
    {
      name: "one file",
      files: {
        "x.yaml": "kind: Service\nmetadata: {name: s, namespace: a}\n---\n" +
          "kind: Service\nmetadata: {name: t}\n",
      },
      stderr: [
        'x.yaml: document 1: service/a/s: the namespace from the provided object "a" does not match the namespace "b"',
      ],
    },
    {
      name: "the second of two files",
      files: {
        "ok.yaml": "kind: Service\nmetadata: {name: fine, namespace: b}\n",
        "bad.yaml": "kind: List\nitems:\n- kind: Pod\n  metadata: {name: p, namespace: a}\n" +
          "- kind: Endpoints\n  metadata: {name: e, namespace: c}\n",
      },
      stderr: [
        'bad.yaml: item 1: pod/a/p: the namespace from the provided object "a" does not match the namespace "b"',
        'bad.yaml: item 2: endpoints/c/e: the namespace from the provided object "c" does not match the namespace "b"',
      ],
    },
  ];
  for (const row of rows) {
    await t.step(row.name, async () => {
      await withFake((l) => okReplyTo(l), async (fake, dir) => {
        const args: string[] = [];
        for (const [name, text] of Object.entries(row.files)) {
          await Deno.writeTextFile(`${dir}/${name}`, text);
          args.push("-f", `${dir}/${name}`);
        }
        const r = await edgemesh(["ctl", "--socket", fake.path, "apply", ...args, "-n", "b"]);
        assert.equal(r.code, 1);
        assert.equal(r.stderr, row.stderr.map((l) => `${dir}/${l}\n`).join(""));
        assert.equal(r.stdout, "");
        assert.equal(fake.connections(), 0, "nothing was sent");
      });
    });
  }
  await t.step("nodes are cluster-scoped and a matching namespace is fine", async () => {
    await withFake((l) => okReplyTo(l), async (fake, dir) => {
      const file = `${dir}/m.yaml`;
      await Deno.writeTextFile(
        file,
        "kind: Node\nmetadata: {name: n1, namespace: a}\n---\n" +
          "kind: Service\nmetadata: {name: s, namespace: b}\n",
      );
      const r = await edgemesh(["ctl", "-s", fake.path, "apply", "-f", file, "-n", "b"]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(resources(fake), ["default/node/n1", "b/service/s"]);
    });
  });
});

Deno.test("ctl apply: every error about a document starts with its file", async (t) => {
  /** The agent refuses objects named "bad", as it refuses an invalid object. */
  const respond: Respond = (l) => {
    const resource = JSON.parse(l).route.resource as string;
    return resource.endsWith("/bad")
      ? JSON.stringify({
        msg_id: msgIdOf(l),
        ok: false,
        error: `Cannot apply "${resource}": spec.ports[0].port 70000 is out of range`,
      })
      : okReplyTo(l);
  };
  await t.step("an object the agent rejects: file, document, object", async () => {
    await withFake(respond, async (fake, dir) => {
      const multi = `${dir}/multi.yaml`;
      await Deno.writeTextFile(
        multi,
        "kind: Service\nmetadata: {name: ok}\n---\nkind: Service\nmetadata: {name: bad}\n",
      );
      const single = `${dir}/single.json`;
      await Deno.writeTextFile(single, '{"kind":"Service","metadata":{"name":"bad"}}');
      const r = await edgemesh(["ctl", "-s", fake.path, "apply", "-f", multi, "-f", single]);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, "service/default/ok configured\n");
      assert.equal(
        r.stderr,
        `${multi}: document 2: service/default/bad: Cannot apply "default/service/bad": ` +
          "spec.ports[0].port 70000 is out of range\n" +
          // One document: nothing to number.
          `${single}: service/default/bad: Cannot apply "default/service/bad": ` +
          "spec.ports[0].port 70000 is out of range\n",
      );
    });
  });
  await t.step("a syntax error: file, document, position; nothing is sent", async () => {
    await withFake(respond, async (fake, dir) => {
      const good = `${dir}/good.yaml`;
      await Deno.writeTextFile(good, "kind: Service\nmetadata: {name: s}\n");
      const multi = `${dir}/c.yaml`;
      await Deno.writeTextFile(
        multi,
        "kind: Service\nmetadata: {name: a}\n---\nkind: Service\nmetadata: {name: b\n",
      );
      const r = await edgemesh(["ctl", "-s", fake.path, "apply", "-f", good, "-f", multi]);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, "");
      assert.match(
        r.stderr,
        new RegExp(`^${multi}: document 2: Cannot parse manifest: line \\d+, column \\d+: .+\n$`),
      );
      const single = `${dir}/one.yaml`;
      await Deno.writeTextFile(single, "kind: Service\nmetadata: {name: a\n");
      const one = await edgemesh(["ctl", "-s", fake.path, "apply", "-f", single]);
      assert.equal(one.code, 1);
      assert.match(
        one.stderr,
        new RegExp(`^${single}: Cannot parse manifest: line \\d+, column \\d+: .+\n$`),
      );
      assert.equal(fake.connections(), 0, "nothing was sent");
    });
  });
  await t.step("a document without a kind is reported; the others are applied", async () => {
    await withFake(respond, async (fake, dir) => {
      const file = `${dir}/d.yaml`;
      await Deno.writeTextFile(
        file,
        "kind: Service\nmetadata: {name: s}\n---\nkind: Endpoints\nmetadata: {name: s}\n" +
          "---\nmetadata: {name: x}\n",
      );
      const r = await edgemesh(["ctl", "-s", fake.path, "apply", "-f", file]);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, "service/default/s configured\nendpoints/default/s configured\n");
      assert.equal(r.stderr, `${file}: document 3: kind is missing\n`);
      assert.deepEqual(resources(fake), ["default/service/s", "default/endpoints/s"]);
    });
  });
});

Deno.test("ctl read and connect errors name the file or socket plainly", async (t) => {
  await withFake((l) => okReplyTo(l), async (fake, dir) => {
    await t.step("apply -f of a directory", async () => {
      const r = await edgemesh(["ctl", "-s", fake.path, "apply", "-f", dir]);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `edgemesh: Cannot read "${dir}": is a directory\n`);
    });
    await t.step("per-document errors name the file", async () => {
      const file = `${dir}/mixed.yaml`;
      await Deno.writeTextFile(
        file,
        "kind: Service\nmetadata: {name: s}\n---\nkind: ConfigMap\nmetadata: {name: c}\n",
      );
      const r = await edgemesh(["ctl", "-s", fake.path, "apply", "-f", file]);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, "service/default/s configured\n");
      assert.equal(
        r.stderr,
        `${file}: document 2: kind "ConfigMap" is not supported ` +
          "(Service, Endpoints, EndpointSlice, Pod, Node)\n",
      );
    });
    await t.step("--socket naming a regular file", async () => {
      const file = `${dir}/mixed.yaml`;
      const r = await edgemesh(["ctl", "--socket", file, "status"]);
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        `edgemesh: Cannot connect to control socket "${file}": the path is not a socket\n`,
      );
    });
    await t.step("$EDGEMESH_SOCKET naming a directory", async () => {
      const r = await edgemesh(["ctl", "status"], { EDGEMESH_SOCKET: dir });
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        `edgemesh: Cannot connect to control socket "${dir}": the path is not a socket\n`,
      );
    });
  });
});
