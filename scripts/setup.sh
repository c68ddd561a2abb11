#!/usr/bin/env bash
# Installs what the build and the test suite need on a fresh Debian 12 machine.
# Each area keeps its own step in scripts/setup.d/NN-name.sh; they run in order
# and must be idempotent (fast when everything is already there).
set -euo pipefail
cd "$(dirname "$0")/.."
for step in scripts/setup.d/*.sh; do
	[ -e "$step" ] || continue
	echo "setup: $step" >&2
	bash "$step"
done
