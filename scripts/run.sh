#!/usr/bin/env bash
# `make run`: the router and the agent on embedded defaults. The router runs in
# the background with its data under ./lanner-data; the agent (root needed for
# eBPF) streams its alerts to it. Ctrl-C stops both cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
bin/lanner-router --data-dir "${DATA_DIR:-./lanner-data}" &
router=$!
trap 'kill -TERM $router 2>/dev/null; wait $router 2>/dev/null' EXIT INT TERM
for _ in $(seq 50); do
	curl -fsS http://127.0.0.1:2801/readyz >/dev/null 2>&1 && break
	sleep 0.1
done
echo "router ready: ingest http://127.0.0.1:2801/ (Falco JSON), gRPC 127.0.0.1:2802, metrics http://127.0.0.1:2801/metrics" >&2
if [ "$(id -u)" -ne 0 ]; then
	echo "lanner-agent needs root (or CAP_BPF+CAP_PERFMON+CAP_SYS_RESOURCE): run 'sudo make run'" >&2
	wait $router
	exit $?
fi
bin/lanner-agent run --router 127.0.0.1:2802 --stdout
