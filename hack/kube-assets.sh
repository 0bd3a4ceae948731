#!/usr/bin/env bash
# kube-assets.sh builds the Kubernetes control plane the installer tests run
# against through controller-runtime's envtest: kube-apiserver, etcd and
# kubectl, into .tmp/kube/KUBE_VERSION (gitignored).
#
# Usage: export KUBEBUILDER_ASSETS=$(hack/kube-assets.sh)
#
# The assets folder's path is the last line on stdout; progress and errors go
# to stderr, and any failure exits non-zero. A binary is rebuilt only when it
# is missing or reports another version than the one pinned here, so a second
# run is quick and needs no network. Builds go through the Go module proxy
# only: setup-envtest and GitHub release downloads are out of reach.
#
# `go install PKG@VERSION` refuses both projects (their go.mod files have
# replace directives), so each is built in a throwaway module under
# .tmp/build/NAME that requires the pinned version:
#   - kube-apiserver and kubectl come from k8s.io/kubernetes, whose go.mod
#     replaces its staging modules (k8s.io/api, k8s.io/client-go, ...) with
#     folders of its own repository. Only a main module's replace directives
#     apply, so the throwaway module replaces each of them with its published
#     release of the same code, v0.MINOR.PATCH for Kubernetes v1.MINOR.PATCH.
#   - etcd comes from go.etcd.io/etcd/server/v3, whose root package is etcd's
#     main package. Its replace directives only point its sibling etcd modules
#     at the versions it already requires, so none are needed here.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# envtest needs etcd 3.5 or later. Keep kube_version a v1.x.y release: the
# staging modules' version is derived from it.
kube_version=v1.35.4
etcd_version=v3.6.16

assets="$root/.tmp/kube/$kube_version"
staging_version="v0.${kube_version#v1.}"

die() {
  echo "kube-assets.sh: $*" >&2
  exit 1
}

# reported_version prints the version BINARY reports about itself, or
# nothing when it is missing or fails to run.
reported_version() {
  local name=$1 binary="$assets/$1"
  [ -x "$binary" ] || return 0
  case $name in
    kube-apiserver) "$binary" --version 2>/dev/null | awk '{ print $2; exit }' ;;
    kubectl) "$binary" version --client 2>/dev/null | awk '/^Client Version:/ { print $3 }' ;;
    etcd) "$binary" --version 2>/dev/null | awk '/^etcd Version:/ { print "v" $3 }' ;;
  esac || true
}

want_version() {
  case $1 in
    etcd) echo "$etcd_version" ;;
    *) echo "$kube_version" ;;
  esac
}

# new_module writes a fresh throwaway module into .tmp/build/NAME requiring
# MODULE@VERSION and blank-importing each PKG, which keeps `go mod tidy`
# from dropping the requirement. Extra go.mod lines come on stdin.
new_module() {
  local name=$1 module=$2 version=$3 dir="$root/.tmp/build/$1" go_version
  shift 3
  go_version=$(awk '$1 == "go" { print $2; exit }' "$root/go.mod")
  rm -rf "$dir" && mkdir -p "$dir" || return
  { printf 'module capcenter.local/%s-build\n\ngo %s\n\nrequire %s %s\n\n' \
      "$name" "$go_version" "$module" "$version" && cat; } >"$dir/go.mod" || return
  { printf '//go:build tools\n\npackage tools\n\nimport (\n' &&
    printf '\t_ "%s"\n' "$@" && printf ')\n'; } >"$dir/tools.go"
}

# kube_mod_lines prints the go.mod lines the Kubernetes throwaway module
# needs besides its requirement: kubernetes' own godebug settings (so the
# binaries keep the runtime behaviour of official builds) and a replace
# directive for each staging module.
kube_mod_lines() {
  local gomod
  # Run outside any module, so this repository's go.mod plays no part.
  gomod=$(cd "${TMPDIR:-/tmp}" && GOWORK=off go mod download -json "k8s.io/kubernetes@$kube_version" |
    awk -F'"' '$2 == "GoMod" { print $4 }') || return
  [ -f "$gomod" ] || { echo "kube-assets.sh: no go.mod for k8s.io/kubernetes@$kube_version" >&2; return 1; }
  awk '/^godebug \(/, /^\)/ { print; next } /^godebug / { print }' "$gomod" &&
    echo &&
    awk -v v="$staging_version" '
      $2 == "=>" && $3 ~ /^\.\/staging\/src\// { lines = lines "\t" $1 " => " $1 " " v "\n" }
      END { if (lines == "") exit 1; printf "replace (\n%s)\n", lines }' "$gomod"
}

# build_in_module tidies the throwaway module NAME and builds PKG into the
# assets folder as OUT, stamping it with LDFLAGS. The folder sits inside this
# repository: GOWORK=off keeps any go.work here out of the build and
# -buildvcs=false keeps git out of it. The binary is built beside OUT and
# renamed over it, as `go build -o` refuses to overwrite a file that is not a
# Go binary and a failed build must not leave half a binary behind.
build_in_module() {
  local name=$1 pkg=$2 out=$3 ldflags=$4
  (cd "$root/.tmp/build/$name" &&
    GOWORK=off go mod tidy &&
    GOWORK=off CGO_ENABLED=0 go build -buildvcs=false -ldflags "$ldflags" -o "$assets/$out.new" "$pkg" &&
    mv "$assets/$out.new" "$assets/$out")
}

# kube_ldflags stamps the version the way Kubernetes' own release builds do
# (hack/lib/version.sh): kubectl and the API server read
# k8s.io/component-base/version, clients' user agents k8s.io/client-go/pkg/version.
kube_ldflags() {
  local minor=${kube_version#v1.} pkg flags="-s -w"
  minor=${minor%%.*}
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  done
  echo "$flags"
}

build_kube() {
  local name=$1 pkg="k8s.io/kubernetes/cmd/$1"
  # kube-apiserver and kubectl share one throwaway module and build cache.
  if ! grep -qs "k8s.io/kubernetes $kube_version\$" "$root/.tmp/build/kube/go.mod"; then
    kube_mod_lines | new_module kube k8s.io/kubernetes "$kube_version" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl || return
  fi
  build_in_module kube "$pkg" "$name" "$(kube_ldflags)"
}

build_etcd() {
  new_module etcd go.etcd.io/etcd/server/v3 "$etcd_version" go.etcd.io/etcd/server/v3 </dev/null &&
    build_in_module etcd go.etcd.io/etcd/server/v3 etcd "-s -w"
}

ensure() {
  local name=$1 want have
  want=$(want_version "$name")
  have=$(reported_version "$name")
  [ "$have" = "$want" ] && return 0
  echo "kube-assets.sh: building $name $want into ${assets#"$root/"}${have:+ (had $have)}" >&2
  mkdir -p "$assets"
  local start=$SECONDS
  case $name in
    etcd) build_etcd ;;
    *) build_kube "$name" ;;
  esac >&2 || die "building $name $want failed (see above)"
  have=$(reported_version "$name")
  [ "$have" = "$want" ] ||
    die "built $name but it reports version '${have:-none}', not $want"
  echo "kube-assets.sh: built $name $want in $((SECONDS - start))s" >&2
}

for name in etcd kube-apiserver kubectl; do
  ensure "$name"
done
echo "$assets"
