#!/usr/bin/env bash
# Builds ZincSearch v0.4.10, an Elasticsearch-API-compatible server (under /es),
# that the Elasticsearch output's tests and benchmark run against. No real
# Elasticsearch can be installed from the registries this project may use, so
# it is built from its Go module zip with two small patches:
#   1. the web UI assets are not in the module zip: an empty page stands in;
#   2. the pyroscope profiler it links does not compile with Go >= 1.23: the
#      call is removed (profiling is off by default anyway).
# Result: ${LANNER_BACKENDS_DIR:-$HOME/.cache/lanner-backends}/bin/zincsearch.
# Idempotent: a binary stamped with the same version and patch level is kept.
set -euo pipefail

version=v0.4.10
patchlevel=1 # bump when the patches below change, to force a rebuild
dir=${LANNER_BACKENDS_DIR:-$HOME/.cache/lanner-backends}
bin=$dir/bin/zincsearch
stamp=$dir/bin/.zincsearch.stamp
want="$version+p$patchlevel"

if [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
	exit 0
fi

mkdir -p "$dir/bin" "$dir/src"
src=$(mktemp -d "$dir/src/zincsearch.XXXXXX")
trap 'rm -rf "$src"' EXIT

# GOFLAGS=-mod=mod: the module's own go.sum is incomplete for a build in place.
# GOTOOLCHAIN=local: never try to download another toolchain (no network for it).
export GOFLAGS=-mod=mod GOTOOLCHAIN=local
mod=github.com/zincsearch/zincsearch@$version
# The proxy refuses version listings for this module, so name the version
# exactly and build inside a writable copy (also sidesteps its replace directives).
moddir=$(go mod download -json "$mod" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
if [ -z "$moddir" ] || [ ! -d "$moddir" ]; then
	echo "41-zincsearch: go mod download $mod failed" >&2
	exit 1
fi
cp -r "$moddir/." "$src/"
chmod -R u+w "$src"

# Patch 1: a placeholder for the UI that go:embed expects.
mkdir -p "$src/web/dist"
printf '<!doctype html><title>zincsearch</title>\n' >"$src/web/dist/index.html"

# Patch 2: drop the pyroscope import and its Start(...) block in main.go.
main=$src/cmd/zincsearch/main.go
grep -q 'pyroscope-io/client/pyroscope' "$main" || {
	echo "41-zincsearch: main.go no longer imports pyroscope; review the patch" >&2
	exit 1
}
awk '
	/"github.com\/pyroscope-io\/client\/pyroscope"/ { next }
	/_, err := pyroscope.Start\(/ { skipping = 1; print "\t_ = ProfileID"; next }
	skipping && /^\t}$/ { skipping = 0; next }
	skipping { next }
	{ print }
' "$main" >"$main.new"
mv "$main.new" "$main"
if grep -q pyroscope "$main"; then
	echo "41-zincsearch: pyroscope patch did not apply cleanly" >&2
	exit 1
fi

(cd "$src" && go build -trimpath -o "$bin.tmp" ./cmd/zincsearch)
mv "$bin.tmp" "$bin"
echo "$want" >"$stamp"
echo "41-zincsearch: built $bin ($want)" >&2
