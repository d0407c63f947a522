#!/usr/bin/env bash
# Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
#
# Runs the test suite with the aarch64 build of Deno under qemu user-mode emulation, so code that
# only works on x86_64 cannot land. Steps: install the emulator and the aarch64 Deno
# (scripts/setup-arm64.sh), type-check natively (fast; the emulated run then uses --no-check),
# run unit + loopback integration tests with the aarch64 Deno. Left to the native run
# (ARM64_IGNORE): tests/netns/ (kernel and iproute2 are the host's under emulation anyway) and
# the demo script's test (a shell script driving several agents; minutes under emulation).
# Environment: DENO (native deno), ARM64_TESTS (space-separated paths, default tests/),
# ARM64_IGNORE (comma-separated paths for deno test --ignore).
# Tests see EDGEMESH_TEST_EMULATED=qemu-aarch64 and may scale failure bounds by it: everything
# runs ~10x slower under emulation.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DENO="${DENO:-$(command -v deno || echo node_modules/.bin/deno)}"
read -r -a TESTS <<<"${ARM64_TESTS:-tests/}"
IGNORE="${ARM64_IGNORE:-tests/netns,tests/ops/demo_test.ts}"

ARM_DENO="$(bash scripts/setup-arm64.sh | tail -1)"
start=$(date +%s)

echo "test-arm64: type check (native $("$DENO" --version | head -1))" >&2
"$DENO" check main.ts $(find lib tests -name '*.ts' | sort)

if [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] &&
  grep -qx enabled /proc/sys/fs/binfmt_misc/qemu-aarch64; then
  RUN=("$ARM_DENO")
else
  # Without binfmt the kernel cannot start aarch64 programs itself, so tests that spawn
  # Deno.execPath() (CLI and agent tests) fail with "Exec format error"; say so up front.
  echo "test-arm64: WARNING: qemu-aarch64 is not registered with binfmt_misc; running" \
    "qemu-aarch64-static explicitly. Tests that spawn a child deno will fail." >&2
  export QEMU_LD_PREFIX=/
  RUN=(qemu-aarch64-static "$ARM_DENO")
fi
arch="$("${RUN[@]}" eval 'console.log(Deno.build.target)')"
echo "test-arm64: running ${TESTS[*]} with deno for $arch under emulation" >&2
case "$arch" in aarch64-*) ;; *) echo "test-arm64: not an aarch64 deno: $arch" >&2; exit 1 ;; esac

# Sequential by default: with --parallel (ARM64_PARALLEL=1) two emulated files compete for the
# CPU and tests with failure bounds (dial timeouts) failed on a loaded machine; sequential is
# slower but stable, and CI's limit leaves room for it.
PARALLEL=()
[ "${ARM64_PARALLEL:-0}" = 1 ] && PARALLEL=(--parallel)
EDGEMESH_TEST_EMULATED=qemu-aarch64 "${RUN[@]}" test --no-check "${PARALLEL[@]}" --allow-all \
  --unstable-net --ignore="$IGNORE" "${TESTS[@]}"
echo "test-arm64: finished in $(($(date +%s) - start)) s" >&2
