# Lanner — run `make help` for the targets.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
BIN := bin
DATA_DIR ?= ./lanner-data

.PHONY: bench-agent-floor help setup build test test-unit lint generate generate-check vmlinux bench bench-router bench-outputs bench-rules bench-agent run clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  %-16s %s\n", $$1, $$2}'

setup: ## install everything the build and tests need (apt packages, Go tools, test servers)
	./scripts/setup.sh

build: ## build bin/lanner-router and bin/lanner-agent
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/lanner-router ./cmd/lanner-agent

run: build ## run the router and the agent on embedded defaults (agent needs root)
	./scripts/run.sh

test: setup lint generate-check test-unit ## the whole suite, as CI runs it

test-unit: ## go test ./... (privileged tests run when root)
	$(GO) test -count=1 -timeout 40m ./...

lint: ## gofmt, go vet, staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^vendor/')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$$($(GO) env GOPATH)/bin/staticcheck ./...

generate: ## regenerate committed code (protobuf, bpf2go)
	./scripts/generate.sh

vmlinux: ## regenerate bpf/vmlinux.h from this kernel's BTF (only when the programs use new kernel types)
	./bpf/vmlinux.sh

generate-check: ## fail if `make generate` changes committed files
	./scripts/generate.sh
	@if [ -n "$$(git status --porcelain -- '*.pb.go' 'bpf/' 2>/dev/null)" ]; then echo "generated files differ from the committed ones:"; git status --porcelain -- '*.pb.go' 'bpf/'; exit 1; fi

bench: bench-rules bench-router bench-outputs ## all benchmarks (bench-agent needs root)

bench-router: ## router load test: HTTP (64, 128, 256 senders) + gRPC ingest, webhook sink, stall and recovery (both webhook modes)
	$(GO) run ./cmd/lanner-loadgen
	$(GO) run ./cmd/lanner-loadgen -webhook-batch -skip backlog

bench-outputs: ## delivered alerts/s per output against real test servers
	$(GO) test -run '^$$' -bench . -benchtime 1x ./outputs/...

bench-rules: ## rules engine: events/s, allocations, load+compile time
	$(GO) test -run '^$$' -bench . -benchmem ./rules/...

bench-agent: ## workload slowdown with and without the agent (root)
	$(GO) run ./cmd/lanner-agentbench

bench-agent-floor: ## what each way of hooking syscall exit costs an open/read/close loop (root)
	$(GO) run ./cmd/lanner-agentbench -floor

clean: ## remove build output
	rm -rf $(BIN)
