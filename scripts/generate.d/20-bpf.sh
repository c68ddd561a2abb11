#!/usr/bin/env bash
# Compiles bpf/lanner.bpf.c with bpf2go into bpf/lanner_x86_bpfel.{go,o}.
# Deterministic: bpf2go maps the source dir out of the debug info and strips
# DWARF; BTF keeps only relative names. bpf/vmlinux.h is a committed input
# (regenerate it with bpf/vmlinux.sh, not here: kernels differ). The UAPI
# headers it includes come from Debian's linux-libc-dev (multiarch dir).
set -euo pipefail
cd "$(dirname "$0")/../../bpf"
GOPACKAGE=bpf go run github.com/cilium/ebpf/cmd/bpf2go \
	-cc clang -strip llvm-strip \
	-cflags "-O2 -g -Wall -Werror -I/usr/include/$(uname -m)-linux-gnu" \
	-target amd64 \
	-type event -type tuple -type kind -type blob -type flag -type counter \
	Lanner lanner.bpf.c
