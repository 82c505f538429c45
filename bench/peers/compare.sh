#!/usr/bin/env bash
# compare.sh - gptoss and llama.cpp side by side on one checkpoint, this machine.
#
#   bench/peers/compare.sh MODEL_DIR [--prompt 128] [--gen 32] [--reps 3] [--threads 2]
#
# Once: installs the npm package node-llama-cpp (llama.cpp's prebuilt CPU
# libraries) and converts MODEL_DIR to GGUF with hf2gguf.py (experts MXFP4,
# dense weights Q8_0, as ggml-org publishes gpt-oss), both under
# $GPTOSS_PEERS_DIR (default: the user cache dir's gptoss/peers; the GGUF is
# about as large as the model). Then runs build/gptoss-bench e2e and llama.cpp
# in turn, one engine at a time (two copies of the weights need not fit in
# memory). stdout: one JSON line per engine; a summary on stderr.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
[ $# -ge 1 ] || { echo "usage: $0 MODEL_DIR [--prompt N] [--gen N] [--reps N] [--threads N]" >&2; exit 2; }
model=$(cd "$1" && pwd)
shift
prompt=128 gen=32 reps=3 threads=2
while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || { echo "compare.sh: $1 needs a value" >&2; exit 2; }
    case "$1" in
    --prompt) prompt=$2 ;;
    --gen) gen=$2 ;;
    --reps) reps=$2 ;;
    --threads) threads=$2 ;;
    *) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift 2
done

work=${GPTOSS_PEERS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gptoss/peers}
mkdir -p "$work"
version=3.22.1
if [ ! -d "$work/node_modules/node-llama-cpp" ]; then
    echo "== installing node-llama-cpp@$version (llama.cpp's prebuilt CPU build) in $work" >&2
    (cd "$work" && npm install --silent --no-audit --no-fund "node-llama-cpp@$version" >&2)
fi
python=python3 # the converter needs numpy, which a python3 first on PATH (pyenv, a venv) may lack
python3 -c 'import numpy' 2>/dev/null || { [ -x /usr/bin/python3 ] && python=/usr/bin/python3; }
gguf="$work/$(basename "$model").q8_0.gguf"
if [ ! -f "$gguf" ] || [ "$model/config.json" -nt "$gguf" ]; then
    echo "== converting $model to $gguf" >&2
    "$python" "$here/hf2gguf.py" "$model" "$gguf" >/dev/null
fi

ours=$("$root/build/gptoss-bench" e2e --model "$model" --prompt "$prompt" --gen "$gen" --reps "$reps" \
    --threads "$threads" --json)
echo "$ours"
cp "$here/llamacpp.mjs" "$work/" # an ES module finds node-llama-cpp next to itself, not through NODE_PATH
theirs=$(node "$work/llamacpp.mjs" --model "$gguf" --prompt "$prompt" \
    --gen "$gen" --reps "$reps" --threads "$threads")
echo "$theirs"
python3 - "$ours" "$theirs" >&2 <<'EOF'
import json, sys
ours, theirs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print('%-28s %12s %12s' % ('', 'gptoss', 'llama.cpp'))
for key, label, scale in [('prefill_tok_s', 'prefill, tok/s', 1), ('decode_tok_s', 'decode, tok/s', 1),
                          ('peak_rss_bytes', 'peak RSS, GiB', 2**-30), ('load_s', 'load, s', 1)]:
    print('%-28s %12.2f %12.2f' % (label, ours[key] * scale, theirs[key] * scale))
EOF
