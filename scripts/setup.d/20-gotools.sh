#!/usr/bin/env bash
# Go tools pinned to versions, installed into $(go env GOPATH)/bin.
set -euo pipefail
bin="$(go env GOPATH)/bin"
need() { [ -x "$bin/$1" ] || go install "$2"; }
need staticcheck honnef.co/go/tools/cmd/staticcheck@v0.8.2
need protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
need protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1
