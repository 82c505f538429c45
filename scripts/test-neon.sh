#!/usr/bin/env bash
# Checks the AArch64 NEON kernels against the scalar reference on an x86-64
# host: cross-compiles tests/neon/kernel_check.c with simd/ and src/error.c
# (no cJSON, xxHash or Criterion needed) and runs it under qemu-user twice:
#   -cpu max         has the dot-product extension: dispatch must pick neon-dotprod
#   -cpu cortex-a53  ARMv8.0, no dotprod:           dispatch must pick neon
# Both runs also test the plain neon set. Installs gcc-aarch64-linux-gnu and
# qemu-user (apt-get, through sudo unless root) when they are missing. On an
# AArch64 Linux host it builds natively and runs once, without qemu.
#
#   scripts/test-neon.sh [--trials N]      (extra arguments go to kernel_check)
#
# Environment: AARCH64_CC (default aarch64-linux-gnu-gcc), AARCH64_SYSROOT
# (default /usr/aarch64-linux-gnu), QEMU_AARCH64 (default qemu-aarch64),
# NEON_BUILD_DIR (default build/neon-check).
set -euo pipefail
cd "$(dirname "$0")/.."

out="${NEON_BUILD_DIR:-build/neon-check}"
native=0
if [ "$(uname -m)" = aarch64 ] && [ "$(uname -s)" = Linux ]; then native=1; fi
if [ "$native" = 1 ]; then
    cc="${AARCH64_CC:-${CC:-cc}}"
else
    cc="${AARCH64_CC:-aarch64-linux-gnu-gcc}"
    sysroot="${AARCH64_SYSROOT:-/usr/aarch64-linux-gnu}"
    qemu="${QEMU_AARCH64:-qemu-aarch64}"
    missing=()
    command -v "$cc" >/dev/null 2>&1 || missing+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
    command -v "$qemu" >/dev/null 2>&1 || missing+=(qemu-user)
    if ((${#missing[@]})); then
        sudo=""
        [ "$(id -u)" -eq 0 ] || sudo=sudo
        echo "== installing ${missing[*]}" >&2
        $sudo apt-get update -qq
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
fi

# The CMake build's flags: strict C11 plus POSIX, every NEON file but
# neon_dotprod.c for plain ARMv8.0.
cflags=(-std=c11 -O2 -g -Wall -Wextra -Wshadow -Wno-unused-parameter
        -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DGPTOSS_HAVE_NEON -DGPTOSS_HAVE_NEON_DOTPROD
        -Iinclude -Isrc -Isimd)
mkdir -p "$out"
echo "== build: $cc" >&2
objects=()
for source in simd/scalar.c simd/dispatch.c simd/neon.c simd/neon_dotprod.c src/error.c tests/neon/kernel_check.c; do
    object="$out/$(basename "${source%.c}").o"
    extra=()
    [ "$source" = simd/neon_dotprod.c ] && extra=(-march=armv8.2-a+dotprod)
    "$cc" "${cflags[@]}" "${extra[@]}" -c "$source" -o "$object"
    objects+=("$object")
done
"$cc" -o "$out/kernel_check" "${objects[@]}" -lm

if [ "$native" = 1 ]; then
    echo "== native run" >&2
    "$out/kernel_check" "$@"
    exit
fi

status=0
for run in "max neon-dotprod" "cortex-a53 neon"; do
    set -- "$@"
    cpu="${run% *}" expect="${run#* }"
    echo "== qemu-aarch64 -cpu $cpu: expect $expect" >&2
    "$qemu" -L "$sysroot" -cpu "$cpu" "$out/kernel_check" --expect "$expect" "$@" || status=1
done
exit "$status"
