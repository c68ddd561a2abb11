#!/usr/bin/env bash
# Regenerates committed code. Each generator is deterministic so that CI can
# check the committed output with `git status`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$(go env GOPATH)/bin:$PATH"
for step in scripts/generate.d/*.sh; do
	[ -e "$step" ] || continue
	echo "generate: $step" >&2
	bash "$step"
done
