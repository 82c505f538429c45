#!/usr/bin/env bash
# One command from a fresh clone to a running model: installs what is missing,
# builds build/gptoss, generates a small random model in the release layout,
# and runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j"$(nproc 2>/dev/null || sysctl -n hw.ncpu)"

model=build/models/demo
echo "== generating a small random model in $model" >&2
build/gptoss synth --preset tiny --layers 4 --shards 2 --seed 1 --out "$model" >/dev/null

echo "== generating 16 tokens with it (ids on stdout, timings on stderr)" >&2
build/gptoss generate --model "$model" --tokens 1,2,3,4,5 -n 16 --temperature 0.8 --seed 42
