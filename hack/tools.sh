#!/usr/bin/env bash
# tools.sh installs the developer and CI tools this repository pins into
# .tmp/bin (gitignored), so tool dependencies never enter go.mod.
#
# Usage: hack/tools.sh [TOOL...]   (no arguments: every tool)
#
# A tool is reinstalled only when the binary is missing or was built from a
# different module version than the one pinned here, so a second run is quick
# and needs no network. Installs go through the Go module proxy only.
#
# Most tools install with `go install PKG@VERSION`. A tool marked "build"
# cannot (the proxy refuses the version list `go install PKG@VERSION` reads
# for its deprecation check), so it is built instead in a throwaway module
# under .tmp/build/NAME whose go.mod requires only the pinned version.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin="$root/.tmp/bin"

# name  module-path-of-main-package  module-path  version  [build]
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
  # Test-only: the end-to-end tests verify signatures with the Notary Project CLI.
  "notation github.com/notaryproject/notation/cmd/notation github.com/notaryproject/notation v1.3.2 build"
  # Test-only: the end-to-end tests pull, push and discover through capd's
  # /v2/ with the real OCI clients (oras is also the `make bench` client).
  "oras oras.land/oras/cmd/oras oras.land/oras v1.3.6"
  "crane github.com/google/go-containerregistry/cmd/crane github.com/google/go-containerregistry v0.22.1"
  # Test-only: the OCI distribution-spec conformance suite, run against capd.
  # Its main package is the root of its own module.
  "conformance github.com/opencontainers/distribution-spec/conformance github.com/opencontainers/distribution-spec/conformance v0.0.0-20260831232431-97274622c111"
)

# installed_version prints the module version a Go binary was built from,
# or nothing when the binary is missing, unreadable or another program.
# `go install` records the tool's module as the main module (a "mod" line);
# a build in a throwaway module records it as a dependency (a "dep" line).
installed_version() {
  local binary=$1 pkg=$2 module=$3
  [ -x "$binary" ] || return 0
  go version -m "$binary" 2>/dev/null |
    awk -v p="$pkg" -v m="$module" '
      $1 == "path" { path = $2 }
      ($1 == "mod" || $1 == "dep") && $2 == m { version = $3 }
      END { if (path == p) print version }'
}

# build_in_module builds PKG into .tmp/bin from a fresh throwaway module that
# requires MODULE@VERSION, so the tool's own go.mod picks its dependencies
# (all but its replace directives, which only a main module's go.mod can
# apply) and nothing in this repository's go.mod changes.
build_in_module() {
  local name=$1 pkg=$2 module=$3 version=$4
  local dir="$root/.tmp/build/$name" go_version
  go_version=$(awk '$1 == "go" { print $2; exit }' "$root/go.mod")
  rm -rf "$dir"
  mkdir -p "$dir"
  printf 'module capcenter.local/%s-build\n\ngo %s\n\nrequire %s %s\n' \
    "$name" "$go_version" "$module" "$version" >"$dir/go.mod"
  # The blank import keeps `go mod tidy` from dropping the requirement.
  printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$pkg" >"$dir/tools.go"
  # The folder sits inside this repository: GOWORK=off keeps any go.work
  # here out of the build and -buildvcs=false keeps git out of it.
  (cd "$dir" &&
    GOWORK=off go mod tidy &&
    GOWORK=off go build -buildvcs=false -o "$bin/$name" "$pkg")
}

install_tool() {
  local name=$1 pkg=$2 module=$3 version=$4 how=${5:-}
  local have
  have=$(installed_version "$bin/$name" "$pkg" "$module")
  if [ "$have" = "$version" ]; then
    return 0
  fi
  echo "tools.sh: installing $name $version into .tmp/bin${have:+ (had $have)}" >&2
  mkdir -p "$bin"
  if [ "$how" = build ]; then
    build_in_module "$name" "$pkg" "$module" "$version"
    return
  fi
  # With an @version, `go install` ignores this module's go.mod: the tool
  # builds with its own pinned dependencies and nothing here changes.
  GOBIN="$bin" go install "$pkg@$version"
}

want=("$@")
found=0
for entry in "${tools[@]}"; do
  read -r name pkg module version how <<<"$entry"
  if [ ${#want[@]} -gt 0 ] && [[ " ${want[*]} " != *" $name "* ]]; then
    continue
  fi
  found=$((found + 1))
  install_tool "$name" "$pkg" "$module" "$version" "$how"
done

if [ ${#want[@]} -gt 0 ] && [ "$found" -ne ${#want[@]} ]; then
  echo "tools.sh: unknown tool in: ${want[*]}" >&2
  exit 2
fi
