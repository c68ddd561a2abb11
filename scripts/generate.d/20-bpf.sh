#!/usr/bin/env bash
# Compiles bpf/lanner.bpf.c with bpf2go into bpf/lanner_x86_bpfel.{go,o}.
# Deterministic: bpf2go maps the source dir out of the debug info and strips
# DWARF; BTF keeps only relative names. bpf/vmlinux.h is a committed input
# (regenerate it with bpf/vmlinux.sh, not here: kernels differ).
set -euo pipefail
cd "$(dirname "$0")/../../bpf"
GOPACKAGE=bpf go run github.com/cilium/ebpf/cmd/bpf2go \
	-cc clang -strip llvm-strip \
	-cflags "-O2 -g -Wall -Werror" \
	-target amd64 \
	-type event -type tuple -type kind -type blob -type flag -type counter \
	Lanner lanner.bpf.c
