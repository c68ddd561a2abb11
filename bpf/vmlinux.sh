#!/usr/bin/env bash
# Regenerates bpf/vmlinux.h from the running kernel's BTF. Not part of
# `make generate`: kernels differ between machines, and vmlinux.h is an input
# that CO-RE relocations make portable. Run it only to pick up new kernel types.
set -euo pipefail
cd "$(dirname "$0")"
btf=${1:-/sys/kernel/btf/vmlinux}
bpftool btf dump file "$btf" format c > vmlinux.h.tmp
mv vmlinux.h.tmp vmlinux.h
echo "wrote bpf/vmlinux.h from $btf" >&2
