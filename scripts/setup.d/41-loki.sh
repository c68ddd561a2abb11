#!/usr/bin/env bash
# Grafana Loki v3.7.8 (the real server) for the Loki output's optional
# integration test. The build takes ~8 min and ~5 GB of Go caches on a cold
# machine, so it runs only when LANNER_BACKENDS_LOKI=1; the test skips
# without the binary (and fails under LANNER_REQUIRE_BACKENDS=1 only when
# LANNER_BACKENDS_LOKI=1 too). Installed into $LANNER_BACKENDS_DIR/bin
# (default $HOME/.cache/lanner-backends/bin).
set -euo pipefail
[ "${LANNER_BACKENDS_LOKI:-0}" = 1 ] || exit 0
B="${LANNER_BACKENDS_DIR:-$HOME/.cache/lanner-backends}"
[ -x "$B/bin/loki" ] && exit 0
mkdir -p "$B/bin" "$B/src"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local
modcache=$(go env GOMODCACHE)
copy_module() { # module@version dest: a writable copy (the zip lacks a nested module)
	go mod download "$1" >/dev/null
	rm -rf "$2"; cp -r "$modcache/$1" "$2"; chmod -R u+w "$2"
}
L="$B/src/loki"
copy_module github.com/grafana/loki/v3@v3.7.8 "$L"
pushv=$(awk '$1=="github.com/grafana/loki/pkg/push"{print $2; exit}' "$L/go.mod")
copy_module "github.com/grafana/loki/pkg/push@$pushv" "$B/src/loki-push"
rm -rf "$L/pkg/push"; mv "$B/src/loki-push" "$L/pkg/push"
(cd "$L" && go build -trimpath -o "$B/bin/loki" ./cmd/loki)
