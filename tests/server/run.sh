#!/bin/sh
# run.sh - integration test: `gptoss serve` driven by the official openai npm
# client (test.mjs). Makes the small random model with the real vocabulary,
# starts two servers on free loopback ports (one sampling, one with
# --script script.jsonl), runs `node --test`, stops both with SIGTERM and
# checks they exit cleanly.
# usage: tests/server/run.sh GPTOSS_BINARY TOKENIZER_JSON   (ctest runs it)
# Exit 77 (skipped) when node/npm are missing.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
gptoss="${1:?usage: run.sh GPTOSS_BINARY TOKENIZER_JSON}"
tokenizer="${2:?usage: run.sh GPTOSS_BINARY TOKENIZER_JSON}"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "run.sh: node and npm are needed (scripts/install-deps.sh installs them); skipped" >&2
    exit 77
fi
if [ ! -f "$here/node_modules/openai/package.json" ]; then
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) >&2
fi

tmp="$(mktemp -d)"
pids=""
cleanup() {
    for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT

"$gptoss" synth --preset mini-vocab --seed 7 --out "$tmp/model" --tokenizer "$tokenizer" >/dev/null 2>"$tmp/synth.log" ||
    { cat "$tmp/synth.log" >&2; exit 1; }

# start NAME ARGS...: a server on a free port; its URL in $tmp/NAME.url.
start() {
    name="$1"
    shift
    "$gptoss" serve --model "$tmp/model" --port 0 --name mini --threads 1 "$@" >"$tmp/$name.url" 2>"$tmp/$name.log" &
    echo $! >"$tmp/$name.pid"
    pids="$pids $!"
    i=0
    while [ ! -s "$tmp/$name.url" ]; do
        i=$((i + 1))
        if [ $i -gt 600 ] || ! kill -0 "$(cat "$tmp/$name.pid")" 2>/dev/null; then
            echo "run.sh: server $name did not start:" >&2
            cat "$tmp/$name.log" >&2
            exit 1
        fi
        sleep 0.1
    done
}

# stop NAME: SIGTERM; the server must exit with status 0.
stop() {
    pid="$(cat "$tmp/$1.pid")"
    kill -TERM "$pid"
    code=0
    wait "$pid" || code=$?
    if [ "$code" -ne 0 ]; then
        echo "run.sh: server $1 exited with status $code:" >&2
        cat "$tmp/$1.log" >&2
        return 1
    fi
}

start random --parallel 2
start scripted --parallel 1 --script "$here/script.jsonl"
status=0
GPTOSS_URL="$(cat "$tmp/random.url")" GPTOSS_SCRIPT_URL="$(cat "$tmp/scripted.url")" \
    node --test --test-concurrency=1 "$here/test.mjs" || status=$?
if [ "$status" -ne 0 ]; then
    echo "--- random server log" >&2
    tail -n 30 "$tmp/random.log" >&2
    echo "--- scripted server log" >&2
    tail -n 30 "$tmp/scripted.log" >&2
fi
stop random || status=1
stop scripted || status=1
pids=""
exit "$status"
