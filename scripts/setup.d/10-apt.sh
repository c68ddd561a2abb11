#!/usr/bin/env bash
# Debian packages: clang/llvm + libbpf headers + bpftool for the eBPF programs,
# protoc for the gRPC code.
set -euo pipefail
pkgs=(clang llvm libbpf-dev bpftool protobuf-compiler make git ca-certificates)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
