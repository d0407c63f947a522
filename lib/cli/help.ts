// Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
/**
 * `--help` texts of every command. Kept next to each other so they stay consistent.
 * @module
 */
import { DEFAULT_CTL_TIMEOUT_MS } from "./connection.ts";

/** The default `ctl --timeout` as the help texts show it (`60s`). */
const DEFAULT_TIMEOUT = `${DEFAULT_CTL_TIMEOUT_MS / 1000}s`;

/** Help texts by command path (`edgemesh`, `edgemesh run`, `edgemesh ctl get`, …). */
export const HELP: Readonly<Record<string, string>> = {
  "edgemesh": `edgemesh — node-level service mesh agent for edge computing (KubeEdge edgemesh)

Usage:
  edgemesh run [--config FILE] [flags]   run the agent
  edgemesh ctl <command> [flags]         talk to a running agent (apply, delete, get, status)
  edgemesh version                       print the version

Flags:
  -h, --help      show help (also on every command: edgemesh ctl get --help)
      --version   print the version
`,
  "edgemesh run": `Run the edgemesh agent.

Usage:
  edgemesh run [--config FILE] [flags]

Without --config the built-in defaults are used (see lib/config/README.md). Flags override
the config file.

Flags:
  -c, --config FILE           YAML or JSON config file
      --node-name NAME        nodeName (default: hostname)
      --subnet CIDR           subnet VIPs come from (default 9.251.0.0/16)
      --device NAME           virtual device (default edge0)
      --device-type TYPE      auto, dummy or bridge (default auto)
      --control-socket PATH   control socket (default /run/edgemesh/edgemesh.sock)
      --state-dir DIR         persisted state (default /var/lib/edgemesh)
      --dns-listen ADDR       DNS listen IP:port, repeatable (default <subnet first address>:53)
      --cluster-domain NAME   cluster domain (default cluster.local)
      --lb-strategy NAME      RoundRobin or Random (default RoundRobin)
      --metrics-listen ADDR   metrics and health IP:port, "" disables (default 127.0.0.1:9560)
      --tunnel-listen ADDR    inter-node tunnel IP:port (default 0.0.0.0:40001)
      --log-level LEVEL       debug, info, warn or error (default info)
      --log-format FORMAT     logfmt or json (default logfmt)
  -h, --help                  show this help

The agent stops cleanly on SIGINT or SIGTERM. SIGHUP is ignored: the configuration is read
at start, so restart the agent to apply a change.
`,
  "edgemesh ctl": `Talk to a running agent over its control socket.

Usage:
  edgemesh ctl [--socket PATH] [--timeout DURATION] <command> [flags]

Commands:
  apply -f FILE|- [-f FILE]...  create or update Services, Endpoints, EndpointSlices, Pods, Nodes
                                (--wait: until they are live)
  delete KIND NS/NAME...        delete objects (node: delete node NAME); --ignore-not-found,
                                --wait
  get services|endpoints [[NS/]NAME]
                                list services with VIPs, ports and endpoints
  status                        one-screen agent status

Flags:
  -s, --socket PATH       control socket (default $EDGEMESH_SOCKET or /run/edgemesh/edgemesh.sock)
      --timeout DURATION  how long to wait while the agent sends nothing: milliseconds, or
                          a number with ms, s or m; 0 waits forever (default ${DEFAULT_TIMEOUT}).
                          It restarts with every reply: the agent answers a change once it
                          is on disk, which can take seconds on a slow device, so a large
                          apply runs as long as replies keep coming
  -h, --help              show this help
`,
  "edgemesh ctl apply": `Create or update objects from Kubernetes manifests.

Usage:
  edgemesh ctl apply -f FILE|- [-f FILE]... [-n NAMESPACE] [--wait]

FILE holds JSON or YAML: a single object, a List (items), or several YAML documents
separated by "---". Kinds: Service, Endpoints, EndpointSlice, Pod, Node. -f may be repeated:
every file is applied, in the order given. Each object is sent as an "update" message; one
line is printed per object: KIND/NS/NAME configured, or KIND/NS/NAME unchanged when the agent
already held it as sent (nothing was written). Exits 1 if any object failed.

Every file is read and parsed before anything is sent: a file that cannot be read or parsed
changes nothing. With -n, an object whose metadata.namespace is another namespace is refused
(as kubectl does) and then nothing is applied. A document that parses but cannot be applied
(no kind, an unsupported kind or apiVersion, no metadata.name) is reported and skipped: the
other documents are still applied, and the exit status is 1.

Errors about a document start with its file, then the document when the file has several
(d.yaml: document 3: kind is missing), then the object when it is known
(a.yaml: document 2: service/default/x: Cannot apply …).

The agent answers once a change is on disk; its VIP, listeners and DNS follow a few
milliseconds later. With --wait, apply returns only once they are live: exit 1 if the agent
could not apply them, a listener of these services could not be opened (its VIP:port taken,
the listener budget used up), or not within --timeout.

Flags:
  -f, --filename FILE     manifest file, or - for standard input; repeatable
  -n, --namespace NS      namespace of objects that do not name one (default "default")
      --wait              return once the changes are live, not only stored
  -s, --socket PATH       control socket
      --timeout DURATION  wait for the agent (default ${DEFAULT_TIMEOUT}; see edgemesh ctl --help)
  -h, --help              show this help
`,
  "edgemesh ctl delete": `Delete objects.

Usage:
  edgemesh ctl delete KIND NS/NAME... [--ignore-not-found] [--wait]
                                        KIND: service, endpoints, endpointslice, pod
  edgemesh ctl delete node NAME...

NAME without "NS/" uses the namespace from -n (default "default").

Prints one line per deleted object. An object that is not there is reported on stderr
(service "default/web" not found), as kubectl does; the others are still deleted, and the
exit status is 1 if any was missing or failed. --ignore-not-found skips missing objects
silently (exit 0 for them). With --wait, delete returns only once the deletions are live
(the VIP and DNS names gone; a deleted service's VIP is still held for drainGraceMs).

Flags:
  -n, --namespace NS      namespace for names without one (default "default")
      --ignore-not-found  an object that is not there is no error: no message, exit 0
      --wait              return once the deletions are live, not only stored
  -s, --socket PATH       control socket
      --timeout DURATION  wait for the agent (default ${DEFAULT_TIMEOUT}; see edgemesh ctl --help)
  -h, --help              show this help
`,
  "edgemesh ctl get": `List services with their VIPs, ports and endpoints.

Usage:
  edgemesh ctl get services|endpoints [NS/NAME | NAME] [-n NAMESPACE] [-o json]

NS/NAME shows one service; NAME without "NS/" is looked for in the namespace from -n, else
in every namespace. A named service that is not there exits 1 with
service "NS/NAME" not found (or service "NAME" not found in any namespace) on stderr.

The table has the columns NAMESPACE NAME VIP PORTS ENDPOINTS. -o json prints a JSON array of
{"namespace","name","vip","ports":[{"name","protocol","port","targetPort"}],
 "endpoints":[{"ip","port","nodeName","ready"}]} sorted by namespace and name (a stable
contract for scripts; an array for a single NAME too, empty when nothing matches). A service
labelled service.kubernetes.io/service-proxy-name (another proxy handles it) has no VIP; the
table shows "<none> (service-proxy-name=NAME)" and the JSON adds "proxyName" after "vip". A
service left without a VIP because the subnet was full when the state loaded (it was made
smaller) shows "<none> (subnet CIDR is full)" and adds "vipError"; it gets the next VIP freed.

Flags:
  -n, --namespace NS      only this namespace (default: all)
  -o, --output FORMAT     table (default) or json
  -s, --socket PATH       control socket
      --timeout DURATION  wait for the agent (default ${DEFAULT_TIMEOUT}; see edgemesh ctl --help)
  -h, --help              show this help
`,
  "edgemesh ctl status":
    `Show the agent status on one screen: node, device and addresses, service and endpoint
counts, listeners, DNS and tunnel state, peers, last sync time.

Usage:
  edgemesh ctl status [-o json]

Flags:
  -o, --output FORMAT     text (default) or json
  -s, --socket PATH       control socket
      --timeout DURATION  wait for the agent (default ${DEFAULT_TIMEOUT}; see edgemesh ctl --help)
  -h, --help              show this help
`,
  "edgemesh version": `Print the edgemesh version.

Usage:
  edgemesh version

Prints "edgemesh VERSION (deno VERSION)", then, when known, " commit HASH (ORIGIN)": the git
commit of a binary from make build (ORIGIN "build", or "build, uncommitted changes"), or the
HEAD of the git checkout deno run runs from ("git checkout"; uncommitted changes not seen).
`,
};
