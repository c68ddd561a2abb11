#!/usr/bin/env bash
# Go code for the router's gRPC ingest service. protoc comes from Debian's
# protobuf-compiler (scripts/setup.d/10-apt.sh); the Go plugins are pinned in
# scripts/setup.d/20-gotools.sh, so the generated headers are stable.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin="$(go env GOPATH)/bin"
protoc --proto_path=router/ingestpb \
	--plugin=protoc-gen-go="$bin/protoc-gen-go" \
	--plugin=protoc-gen-go-grpc="$bin/protoc-gen-go-grpc" \
	--go_out=router/ingestpb --go_opt=paths=source_relative \
	--go-grpc_out=router/ingestpb --go-grpc_opt=paths=source_relative \
	ingest.proto
