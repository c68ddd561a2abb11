#!/usr/bin/env bash
# VictoriaLogs (speaks Loki's push API) for the Loki output's integration tests
# and benchmark. Installed into $LANNER_BACKENDS_DIR/bin (default
# $HOME/.cache/lanner-backends/bin); fast when already there.
set -euo pipefail
dir="${LANNER_BACKENDS_DIR:-$HOME/.cache/lanner-backends}/bin"
[ -x "$dir/victoria-logs" ] && exit 0
mkdir -p "$dir"
# GOFLAGS=-mod=mod: installing outside our module; GOTOOLCHAIN=local: use the Go we have.
GOBIN="$dir" GOFLAGS=-mod=mod GOTOOLCHAIN=local \
	go install -trimpath github.com/VictoriaMetrics/VictoriaMetrics/app/victoria-logs@v1.102.0
