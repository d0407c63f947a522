// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
import assert from "node:assert/strict";
import { ConfigError, DEFAULTS, parseConfig, proxyThreadCount } from "../../lib/config/mod.ts";

const host = { hostname: "edge-node-1" };

Deno.test("parseConfig() fills every default from an empty document", () => {
  for (const raw of [undefined, null, {}]) {
    const cfg = parseConfig(raw, host);
    assert.equal(cfg.nodeName, "edge-node-1");
    assert.equal(cfg.subnet, "9.251.0.0/16");
    assert.deepEqual(cfg.dnsListen, ["9.251.0.1:53"]);
    assert.equal(cfg.controlSocket, "/run/edgemesh/edgemesh.sock");
    assert.equal(cfg.stateDir, "/var/lib/edgemesh");
    assert.equal(cfg.lbStrategy, "RoundRobin");
    assert.equal(cfg.tunnelListen, "0.0.0.0:40001");
    assert.equal(cfg.metricsListen, "127.0.0.1:9560");
    assert.equal(cfg.logLevel, "info");
    assert.equal(cfg.logFormat, "logfmt");
    for (const [k, v] of Object.entries(DEFAULTS)) {
      assert.deepEqual(cfg[k as keyof typeof cfg], v, k);
    }
  }
});

Deno.test("parseConfig() returns a deeply frozen config", () => {
  const cfg = parseConfig({ peers: { "edge-2": "192.0.2.2:40001" }, upstreams: ["1.1.1.1"] }, host);
  assert.ok(Object.isFrozen(cfg));
  assert.ok(Object.isFrozen(cfg.peers));
  assert.ok(Object.isFrozen(cfg.upstreams));
  assert.ok(Object.isFrozen(cfg.dnsListen));
});

Deno.test("parseConfig() accepts valid values", async (t) => {
  const rows: [string, Record<string, unknown>, Record<string, unknown>][] = [
    ["dnsListen follows subnet", { subnet: "10.99.0.0/24" }, { dnsListen: ["10.99.0.1:53"] }],
    ["first host across an octet", { subnet: "10.0.0.0/30" }, { dnsListen: ["10.0.0.1:53"] }],
    ["explicit dnsListen", { dnsListen: ["127.0.0.1:5353", "[::1]:53"] }, {
      dnsListen: ["127.0.0.1:5353", "[::1]:53"],
    }],
    ["proxyThreads number", { proxyThreads: 3 }, { proxyThreads: 3 }],
    ["tunnelAcceptKeyFiles", { tunnelAcceptKeyFiles: ["/k/old", "/k/older"] }, {
      tunnelAcceptKeyFiles: ["/k/old", "/k/older"],
    }],
    ["proxyThreads auto", { proxyThreads: "auto" }, { proxyThreads: "auto" }],
    ["dnsUdpBatching off", { dnsUdpBatching: false }, { dnsUdpBatching: false }],
    ["duration strings", { dialTimeoutMs: "1.5s", drainGraceMs: "1m", ejectCooldownMs: 0 }, {
      dialTimeoutMs: 1500,
      drainGraceMs: 60000,
      ejectCooldownMs: 0,
    }],
    [
      "enums",
      { deviceType: "bridge", lbStrategy: "Random", logLevel: "debug", logFormat: "json" },
      {
        deviceType: "bridge",
        lbStrategy: "Random",
        logLevel: "debug",
        logFormat: "json",
      },
    ],
    ["metrics off", { metricsListen: "" }, { metricsListen: "" }],
    ["port 0 listeners", { tunnelListen: "127.0.0.1:0" }, { tunnelListen: "127.0.0.1:0" }],
    ["upstream default port", { upstreams: ["192.0.2.53", "192.0.2.54:5353"] }, {
      upstreams: ["192.0.2.53", "192.0.2.54:5353"],
    }],
    // A link-local resolver needs its zone, as in resolv.conf (was refused as not IP:port).
    ["upstream IPv6 with zone", { upstreams: ["fe80::1%eth0", "[fe80::1%eth0]:5353"] }, {
      upstreams: ["fe80::1%eth0", "[fe80::1%eth0]:5353"],
    }],
    ["tls", { tunnelTLS: { certFile: "/c.pem", keyFile: "/k.pem", caFile: "/ca.pem" } }, {
      tunnelTLS: { certFile: "/c.pem", keyFile: "/k.pem", caFile: "/ca.pem" },
    }],
    ["peers by name", { peers: { "edge-2": "edge-2.lan:40001" } }, {
      peers: { "edge-2": "edge-2.lan:40001" },
    }],
    ["trailing dot domain", { clusterDomain: "cluster.local." }, {
      clusterDomain: "cluster.local",
    }],
    ["nodeName", { nodeName: "edge-7" }, { nodeName: "edge-7" }],
  ];
  for (const [name, raw, want] of rows) {
    await t.step(name, () => {
      const cfg = parseConfig(raw, host) as unknown as Record<string, unknown>;
      for (const [k, v] of Object.entries(want)) assert.deepEqual(cfg[k], v, k);
    });
  }
});

Deno.test("parseConfig() reports invalid values with exact messages", async (t) => {
  const rows: [string, unknown, string[]][] = [
    ["CIDR prefix too long", { subnet: "9.251.0.0/33" }, ['subnet: "9.251.0.0/33" is not a CIDR']],
    ["CIDR garbage", { subnet: "nine" }, ['subnet: "nine" is not a CIDR']],
    ["CIDR host bits", { subnet: "9.251.3.4/16" }, [
      'subnet: "9.251.3.4/16" has host bits set (did you mean "9.251.0.0/16"?)',
    ]],
    ["IPv6 subnet", { subnet: "fd00::/64" }, ['subnet: "fd00::/64" is not an IPv4 CIDR']],
    ["subnet too small", { subnet: "9.251.0.0/31" }, [
      'subnet: "9.251.0.0/31" is too small: VIPs need at least a /30',
    ]],
    ["subnet too large", { subnet: "8.0.0.0/7" }, [
      'subnet: "8.0.0.0/7" is too large: VIP subnets must be at most a /8',
    ]],
    ["typo key", { subent: "9.251.0.0/16" }, [
      'subent: unknown key "subent" (did you mean "subnet"?)',
    ]],
    ["case typo", { loglevel: "info" }, [
      'loglevel: unknown key "loglevel" (did you mean "logLevel"?)',
    ]],
    ["unknown key", { colour: "blue" }, ['colour: unknown key "colour"']],
    ["proxyThreads zero", { proxyThreads: 0 }, ["proxyThreads: 0 is out of range 1-64"]],
    ["proxyThreads word", { proxyThreads: "all" }, [
      'proxyThreads: expected an integer 1-64 or "auto", got "all"',
    ]],
    ["deviceType", { deviceType: "tun" }, ['deviceType: "tun" is not one of auto, dummy, bridge']],
    ["lbStrategy", { lbStrategy: "roundrobin" }, [
      'lbStrategy: "roundrobin" is not one of RoundRobin, Random',
    ]],
    ["logLevel", { logLevel: "trace" }, [
      'logLevel: "trace" is not one of debug, info, warn, error',
    ]],
    ["logFormat", { logFormat: "text" }, ['logFormat: "text" is not one of logfmt, json']],
    ["wrong type", { subnet: 5 }, ["subnet: expected a string, got 5"]],
    ["boolean", { tunnel: "yes" }, ['tunnel: expected true or false, got "yes"']],
    ["ttl range", { dnsTtl: 7200 }, ["dnsTtl: 7200 is out of range 0-3600"]],
    ["ttl integer", { dnsTtl: 2.5 }, ["dnsTtl: expected an integer, got 2.5"]],
    ["dialAttempts", { dialAttempts: 0 }, ["dialAttempts: 0 is out of range 1-10"]],
    ["duration syntax", { dialTimeoutMs: "fast" }, [
      'dialTimeoutMs: expected milliseconds or a duration like "2s", got "fast"',
    ]],
    ["duration range", { dialTimeoutMs: "10m" }, [
      'dialTimeoutMs: "10m" is out of range 1-300000 ms',
    ]],
    ["listen without port", { dnsListen: ["9.251.0.1"] }, [
      'dnsListen[0]: "9.251.0.1" is not an IP:port address',
    ]],
    ["listen port range", { tunnelListen: "0.0.0.0:70000" }, [
      "tunnelListen: port 70000 is out of range 0-65535",
    ]],
    ["dnsListen not a list", { dnsListen: "9.251.0.1:53" }, [
      'dnsListen: expected a list, got "9.251.0.1:53"',
    ]],
    ["metricsListen name", { metricsListen: "localhost:9560" }, [
      'metricsListen: "localhost:9560" is not an IP:port address',
    ]],
    ["IPv6 with a port, no brackets", {
      metricsListen: "::1:9560",
      dnsListen: ["fd00::53:53"],
      peers: { "edge-2": "fd00::2:40001" },
    }, [
      'dnsListen[0]: "fd00::53:53" is not an IP:port address ' +
      '(an IPv6 address with a port goes in brackets: "[fd00::53]:53")',
      'peers.edge-2: "fd00::2:40001" is not a host:port address ' +
      '(an IPv6 address with a port goes in brackets: "[fd00::2]:40001")',
      'metricsListen: "::1:9560" is not an IP:port address ' +
      '(an IPv6 address with a port goes in brackets: "[::1]:9560")',
    ]],
    ["zone only on upstreams", { tunnelListen: "[fe80::1%eth0]:40001" }, [
      'tunnelListen: "[fe80::1%eth0]:40001" is not an IP:port address',
    ]],
    ["upstream port 0", { upstreams: ["192.0.2.1:0"] }, [
      "upstreams[0]: port 0 is out of range 1-65535",
    ]],
    ["allowFrom", { dnsAllowFrom: ["node", "10.1.2.3/8", "lan"] }, [
      'dnsAllowFrom[1]: "10.1.2.3/8" has host bits set (did you mean "10.0.0.0/8"?)',
      'dnsAllowFrom[2]: "lan" is neither a CIDR nor "node"',
    ]],
    ["allowFrom IPv6 host bits", { dnsAllowFrom: ["fd00::1/64"] }, [
      'dnsAllowFrom[0]: "fd00::1/64" has host bits set (did you mean "fd00::/64"?)',
    ]],
    ["device name", { device: "a-very-long-device-name" }, [
      'device: "a-very-long-device-name" is not a valid interface name (1-15 characters, no "/", ":" or spaces)',
    ]],
    ["node name", { nodeName: "Edge Node" }, [
      'nodeName: "Edge Node" is not a valid node name (RFC 1123 DNS subdomain)',
    ]],
    ["namespace", { defaultNamespace: "Default" }, [
      'defaultNamespace: "Default" is not a valid namespace (RFC 1123 DNS label)',
    ]],
    ["socket path length", { controlSocket: "/run/" + "s".repeat(110) }, [
      `controlSocket: "/run/${
        "s".repeat(110)
      }" is 115 bytes long; it may have at most 99: Unix socket paths are limited to 107, and the metrics socket beside it adds ".metrics"`,
    ]],
    ["socket path too long for the metrics socket beside it", {
      controlSocket: "/run/" + "s".repeat(96),
    }, [
      `controlSocket: "/run/${
        "s".repeat(96)
      }" is 101 bytes long; it may have at most 99: Unix socket paths are limited to 107, and the metrics socket beside it adds ".metrics"`,
    ]],
    ["empty path", { stateDir: "" }, ['stateDir: "" is not a path']],
    ["tls keys", { tunnelTLS: { certFile: "/c", cafile: "/ca" } }, [
      'tunnelTLS.cafile: unknown key "cafile" (did you mean "caFile"?)',
      "tunnelTLS.keyFile: is required",
      "tunnelTLS.caFile: is required",
    ]],
    ["peers", { peers: { "edge-2": 40001, "edge-3": "192.0.2.3" } }, [
      "peers.edge-2: expected a string, got 40001",
      'peers.edge-3: "192.0.2.3" is not a host:port address',
    ]],
    ["tunnelAcceptKeyFiles not a list", { tunnelAcceptKeyFiles: "/k/old" }, [
      'tunnelAcceptKeyFiles: expected a list, got "/k/old"',
    ]],
    ["tunnelAcceptKeyFiles entry", { tunnelAcceptKeyFiles: ["/k/old", ""] }, [
      'tunnelAcceptKeyFiles[1]: "" is not a path',
    ]],
    ["document not a mapping", ["subnet"], ["expected a mapping of keys to values, got a list"]],
    ["every problem at once", { subnet: "x", logLevel: "loud", dnsTtl: -1 }, [
      'subnet: "x" is not a CIDR',
      "dnsTtl: -1 is out of range 0-3600",
      'logLevel: "loud" is not one of debug, info, warn, error',
    ]],
  ];
  for (const [name, raw, want] of rows) {
    await t.step(name, () => {
      assert.throws(() => parseConfig(raw, host), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.ok(err instanceof TypeError);
        assert.equal(err.name, "ConfigError");
        assert.deepEqual(
          err.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)),
          want,
        );
        assert.equal(err.message, `Cannot load config: ${want.join("; ")}`);
        return true;
      });
    });
  }
});

Deno.test("proxyThreadCount() resolves auto to the CPUs, between 1 and 4", () => {
  const rows: [number | "auto", number, number][] = [
    ["auto", 1, 1],
    ["auto", 2, 2],
    ["auto", 16, 4],
    ["auto", 0, 1],
    [3, 1, 3],
    [8, 2, 8],
  ];
  for (const [setting, cpus, want] of rows) {
    assert.equal(proxyThreadCount(setting, cpus), want, `${setting} on ${cpus} CPUs`);
  }
});
