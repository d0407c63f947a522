#!/usr/bin/env bash
# Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
#
# Compiles the agent into one self-contained binary per target with `deno compile`, under the
# production permission flags from scripts/permissions.ts (the binary cannot be given more at
# run time). Usage: scripts/build.sh [TARGET...]   (default: x86_64 and aarch64 Linux, glibc)
#
# `deno compile` downloads Deno's runtime (denort-<target>.zip) from dl.deno.land. Where that
# host is unreachable, this script fails with an explanation and never leaves a fake binary.
# DENORT_BIN=/path/to/denort (Deno's own override) uses a local runtime for the host target.
#
# The binary knows the commit it was built from (`edgemesh version`, `ctl status`): this script
# writes lib/cli/build_stamp.json ({"commit": "<HEAD>", "dirty": <uncommitted changes to tracked
# files>}), embeds it with --include and removes it on exit. EDGEMESH_COMMIT=<full hash> names
# the commit where there is no git checkout (a source tarball; dirty is then false); with
# neither, the binary is built without a stamp and its commit is unknown.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DENO="${DENO:-$(command -v deno || echo node_modules/.bin/deno)}"
TARGETS=("$@")
[ "${#TARGETS[@]}" -gt 0 ] || TARGETS=(x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu)

read -r -a PERMS <<<"$("$DENO" run --no-prompt scripts/permissions.ts)"

STAMP=lib/cli/build_stamp.json
STAMP_ARGS=()
commit="${EDGEMESH_COMMIT:-}"
dirty=false
if [ -z "$commit" ] && git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  commit="$(git -C "$ROOT" rev-parse --verify HEAD)"
  if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no)" ]; then dirty=true; fi
fi
if [ -n "$commit" ]; then
  if ! [[ "$commit" =~ ^([0-9a-f]{40}|[0-9a-f]{64})$ ]]; then
    echo "build: EDGEMESH_COMMIT \"$commit\" is not a full commit hash (40 or 64 hex digits)" >&2
    exit 2
  fi
  trap 'rm -f "$ROOT/$STAMP"' EXIT
  printf '{ "commit": "%s", "dirty": %s }\n' "$commit" "$dirty" >"$STAMP"
  STAMP_ARGS=(--include "$STAMP")
  echo "build: commit $commit$([ "$dirty" = true ] && echo ' (uncommitted changes)') -> $STAMP" >&2
else
  echo "build: not a git checkout and no EDGEMESH_COMMIT: the binary will not know its commit" >&2
fi

mkdir -p dist
status=0
for target in "${TARGETS[@]}"; do
  case "$target" in
    x86_64-unknown-linux-gnu) out=dist/edgemesh-x86_64-linux ;;
    aarch64-unknown-linux-gnu) out=dist/edgemesh-aarch64-linux ;;
    *) echo "build: unsupported target \"$target\"" >&2; exit 2 ;;
  esac
  echo "build: deno compile --target $target -> $out" >&2
  log="$(mktemp)"
  # Worker modules are not part of the module graph deno compile follows: the proxy's worker
  # thread entry (lib/proxy/worker.ts, see proxyThreads) must be included by name. Dynamic
  # imports with string literals (the tunnel, yaml) are embedded automatically. The stamp is a
  # data file read at run time (lib/cli/build_info.ts).
  if "$DENO" compile --no-prompt "${PERMS[@]}" --include lib/proxy/worker.ts "${STAMP_ARGS[@]}" \
    --target "$target" --output "$out" main.ts \
    >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "build: wrote $out ($(du -h "$out" | cut -f1))" >&2
    continue
  fi
  cat "$log" >&2
  status=1
  if grep -q -E "denort|dl\.deno\.land|Setting up base binary" "$log"; then
    cat >&2 <<MSG

build: FAILED for $target: deno compile could not download Deno's runtime (denort) for it.
  deno compile appends the program to a prebuilt runtime binary that it fetches from
  dl.deno.land; this machine can reach only the npm registry and Debian's mirrors, and no
  npm package ships denort. No binary was written for $target.
  To build: run 'make build' on a machine with internet access (same Deno ${DENO_VERSION:-2.9.6}),
  or for the host target set DENORT_BIN=/path/to/denort. Until then, run the agent with
  'make run' (deno run with the same permission flags).
MSG
  fi
  rm -f "$log" "$out".tmp-*
done
exit "$status"
