#!/usr/bin/env bash
# tools.sh installs the developer and CI tools this repository pins into
# .tmp/bin (gitignored), so tool dependencies never enter go.mod.
#
# Usage: hack/tools.sh [TOOL...]   (no arguments: every tool)
#
# A tool is reinstalled only when the binary is missing or was built from a
# different module version than the one pinned here, so a second run is quick
# and needs no network. Installs go through the Go module proxy only.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin="$root/.tmp/bin"

# name  module-path-of-main-package  module-path  version
tools=(
  "golangci-lint github.com/golangci/golangci-lint/v2/cmd/golangci-lint github.com/golangci/golangci-lint/v2 v2.15.0"
  # Code generation (`make generate`, `make checkgenerate`, `make lint`).
  "buf github.com/bufbuild/buf/cmd/buf github.com/bufbuild/buf v1.75.0"
  "protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go google.golang.org/protobuf v1.36.12"
  "protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc v1.6.2"
  "protoc-gen-grpc-gateway github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway github.com/grpc-ecosystem/grpc-gateway/v2 v2.33.0"
  "protoc-gen-openapiv2 github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2 github.com/grpc-ecosystem/grpc-gateway/v2 v2.33.0"
  # Test-only: the end-to-end tests list services through reflection with it.
  "grpcurl github.com/fullstorydev/grpcurl/cmd/grpcurl github.com/fullstorydev/grpcurl v1.9.3"
  # Benchmark peer (`make bench`): the distribution registry.
  "registry github.com/distribution/distribution/v3/cmd/registry github.com/distribution/distribution/v3 v3.1.2"
)

# installed_version prints the module version a Go binary was built from,
# or nothing when the binary is missing or unreadable.
installed_version() {
  local binary=$1 module=$2
  [ -x "$binary" ] || return 0
  go version -m "$binary" 2>/dev/null |
    awk -v m="$module" '$1 == "mod" && $2 == m { print $3 }'
}

install_tool() {
  local name=$1 pkg=$2 module=$3 version=$4
  local have
  have=$(installed_version "$bin/$name" "$module")
  if [ "$have" = "$version" ]; then
    return 0
  fi
  echo "tools.sh: installing $name $version into .tmp/bin${have:+ (had $have)}" >&2
  mkdir -p "$bin"
  # With an @version, `go install` ignores this module's go.mod: the tool
  # builds with its own pinned dependencies and nothing here changes.
  GOBIN="$bin" go install "$pkg@$version"
}

want=("$@")
found=0
for entry in "${tools[@]}"; do
  read -r name pkg module version <<<"$entry"
  if [ ${#want[@]} -gt 0 ] && [[ " ${want[*]} " != *" $name "* ]]; then
    continue
  fi
  found=$((found + 1))
  install_tool "$name" "$pkg" "$module" "$version"
done

if [ ${#want[@]} -gt 0 ] && [ "$found" -ne ${#want[@]} ]; then
  echo "tools.sh: unknown tool in: ${want[*]}" >&2
  exit 2
fi
