#!/usr/bin/env bash
# Copyright 2026 The edgemesh Authors. Licensed under the Apache License, Version 2.0.
#
# Prepares this x86_64 Debian machine to run the aarch64 Deno under user-mode emulation:
#   - Debian qemu-user-static (qemu-aarch64-static) and the arm64 C library (libc6:arm64,
#     multiarch: dpkg --add-architecture arm64), so the dynamically linked aarch64 deno loads;
#   - npm @deno/linux-arm64-glibc@<version> into .deno/arm64/ (git-ignored) (npm refuses foreign os/cpu
#     packages without --force).
# Idempotent: every step checks first. Needs root for apt (CI and the dev machines are root).
# Prints the path of the aarch64 deno binary on its last line.
set -euo pipefail

DENO_VERSION="${DENO_VERSION:-2.9.6}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX="${DENO_ARM64_PREFIX:-$ROOT/.deno/arm64}"
BIN="$PREFIX/node_modules/@deno/linux-arm64-glibc/deno"

log() { echo "setup-arm64: $*" >&2; }

# apt-get with retries: mirrors on CI machines fail transiently.
apt_retry() {
  local i
  for i in 1 2 3 4 5; do
    if DEBIAN_FRONTEND=noninteractive apt-get -o Dpkg::Use-Pty=0 -o APT::Acquire::Retries=3 \
      "$@" </dev/null; then
      return 0
    fi
    log "apt-get $* failed (attempt $i), retrying"
    sleep $((i * 3))
  done
  return 1
}

need_apt=()
command -v qemu-aarch64-static >/dev/null 2>&1 || need_apt+=(qemu-user-static)
[ -e /lib/ld-linux-aarch64.so.1 ] || [ -e /usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1 ] ||
  need_apt+=(libc6:arm64)
# libgcc_s is needed by deno (unwinding); libc6:arm64 depends on it, but check anyway.
[ -e /usr/lib/aarch64-linux-gnu/libgcc_s.so.1 ] || [ -e /lib/aarch64-linux-gnu/libgcc_s.so.1 ] ||
  need_apt+=(libgcc-s1:arm64)

if [ "${#need_apt[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    log "need root to install: ${need_apt[*]}"
    exit 1
  fi
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    log "adding dpkg architecture arm64"
    dpkg --add-architecture arm64
  fi
  log "installing ${need_apt[*]}"
  apt_retry update -q
  apt_retry install -y -q --no-install-recommends "${need_apt[@]}"
fi

# binfmt_misc lets the kernel run aarch64 ELF files through qemu directly, which the suite needs:
# tests spawn `Deno.execPath()` (the aarch64 deno) as a child process. Debian's qemu-user-static
# ships the registration in /usr/lib/binfmt.d; systemd applies it at boot, but containers and
# fresh VMs without systemd as PID 1 need it done here. Failure is not fatal: scripts/test-arm64.sh
# then falls back to running `qemu-aarch64-static` explicitly.
BINFMT=/proc/sys/fs/binfmt_misc
if [ ! -e "$BINFMT/qemu-aarch64" ] && [ "$(id -u)" -eq 0 ]; then
  [ -e "$BINFMT/register" ] || mount -t binfmt_misc binfmt_misc "$BINFMT" 2>/dev/null || true
  CONF=/usr/lib/binfmt.d/qemu-aarch64.conf
  if [ -e "$BINFMT/register" ] && [ -e "$CONF" ]; then
    log "registering qemu-aarch64 with binfmt_misc"
    grep -v '^#' "$CONF" | grep . >"$BINFMT/register" 2>/dev/null ||
      log "could not register $CONF with binfmt_misc (explicit qemu will be used)"
  fi
fi

if [ ! -x "$BIN" ] || ! grep -q "\"version\": \"$DENO_VERSION\"" \
  "$PREFIX/node_modules/@deno/linux-arm64-glibc/package.json" 2>/dev/null; then
  log "installing npm @deno/linux-arm64-glibc@$DENO_VERSION into $PREFIX"
  mkdir -p "$PREFIX"
  for i in 1 2 3; do
    if npm install --prefix "$PREFIX" --no-save --no-audit --no-fund --no-package-lock \
      --force --os=linux --cpu=arm64 "@deno/linux-arm64-glibc@$DENO_VERSION" </dev/null >&2; then
      break
    fi
    [ "$i" -eq 3 ] && exit 1
    log "npm install failed (attempt $i), retrying"
    sleep $((i * 3))
  done
  chmod +x "$BIN"
fi

echo "$BIN"
