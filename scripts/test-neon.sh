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

# The CMake build's flags (strict C11 plus POSIX; every file but
# neon_dotprod.c for plain ARMv8.0), in two builds:
#   release   -O3 as CMake's Release, linked statically (no loader or libc
#             version to get wrong under qemu);
#   sanitize  -O1 with AddressSanitizer + UBSan: out-of-bounds loads (a
#             vector load past a ragged tail) and undefined behaviour.
common=(-std=c11 -g -Wall -Wextra -Wshadow -Wno-unused-parameter
        -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DGPTOSS_HAVE_NEON -DGPTOSS_HAVE_NEON_DOTPROD
        -Iinclude -Isrc -Isimd)
sources=(simd/scalar.c simd/dispatch.c simd/neon.c simd/neon_dotprod.c src/error.c tests/neon/kernel_check.c)

# build NAME CFLAGS... -- LDFLAGS...: objects and $out/NAME/kernel_check.
build() {
    local name="$1"
    shift
    local cflags=() ldflags=()
    while [ "$1" != -- ]; do cflags+=("$1"); shift; done
    shift
    ldflags=("$@")
    mkdir -p "$out/$name"
    echo "== build $name: $cc ${cflags[*]}" >&2
    local objects=() source object extra
    for source in "${sources[@]}"; do
        object="$out/$name/$(basename "${source%.c}").o"
        extra=()
        [ "$source" = simd/neon_dotprod.c ] && extra=(-march=armv8.2-a+dotprod)
        "$cc" "${common[@]}" "${cflags[@]}" "${extra[@]}" -c "$source" -o "$object"
        objects+=("$object")
    done
    "$cc" "${cflags[@]}" -o "$out/$name/kernel_check" "${objects[@]}" "${ldflags[@]}" -lm
}

export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# shellcheck disable=SC2054 # commas inside one flag
sanitize=(-O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)

if [ "$native" = 1 ]; then
    build release -O3 -- 
    build sanitize "${sanitize[@]}" --
    status=0
    echo "== release: native run" >&2
    "$out/release/kernel_check" "$@" || status=1
    echo "== sanitize: native run" >&2
    "$out/sanitize/kernel_check" --trials 30 "$@" || status=1
    exit "$status"
fi

build release -O3 -- -static
build sanitize "${sanitize[@]}" --

# qemu passes its environment on to the program (ASAN_OPTIONS above); the
# library path is set inside only, so the cross libc is used even where a
# multiarch arm64 libc is installed too.
run() { # run CPU BUILD ARGS...
    local cpu="$1" name="$2"
    shift 2
    "$qemu" -L "$sysroot" -E LD_LIBRARY_PATH="$sysroot/lib" -cpu "$cpu" "$out/$name/kernel_check" "$@"
}

status=0
for cpu_expect in "max neon-dotprod" "cortex-a53 neon"; do
    cpu="${cpu_expect% *}" expect="${cpu_expect#* }"
    echo "== release: qemu-aarch64 -cpu $cpu, expect $expect" >&2
    run "$cpu" release --expect "$expect" "$@" || status=1
    echo "== sanitize: qemu-aarch64 -cpu $cpu, expect $expect" >&2
    if run "$cpu" sanitize --expect "$expect" --trials 0 >/dev/null 2>&1; then
        run "$cpu" sanitize --expect "$expect" --trials 30 "$@" || status=1
    else
        echo "test-neon: the sanitizer build does not start under qemu here; skipped (release run above still counts)" >&2
    fi
done
[ "$status" = 0 ] && echo "test-neon: all passed" >&2 || echo "test-neon: FAILED" >&2
exit "$status"
