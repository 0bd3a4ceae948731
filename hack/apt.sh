#!/usr/bin/env bash
# apt.sh installs the Debian packages the tests need that the Go module proxy
# cannot provide: today only skopeo, the third OCI client the end-to-end
# tests drive against capd's /v2/.
#
# Usage: hack/apt.sh
#
# A package is installed only when its command is missing from PATH, so a
# second run is quick and needs neither the network nor root. Otherwise it
# runs `apt-get update && apt-get install -y` (as root, or through sudo
# when that is available) and fails loudly when that fails or the command
# is still missing afterwards.
set -euo pipefail

# command  debian-package
packages=(
  "skopeo skopeo"
)

missing=()
for entry in "${packages[@]}"; do
  read -r cmd pkg <<<"$entry"
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "apt.sh: ${missing[*]} missing and not root (and no sudo): install them with apt-get" >&2
    exit 1
  fi
  sudo=(sudo)
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "apt.sh: ${missing[*]} missing and apt-get is not available: install them by hand" >&2
  exit 1
fi
echo "apt.sh: installing ${missing[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update
"${sudo[@]}" apt-get install -y "${missing[@]}"

for entry in "${packages[@]}"; do
  read -r cmd pkg <<<"$entry"
  if ! command -v "$cmd" >/dev/null 2>&1; then
    echo "apt.sh: installed $pkg but $cmd is still not on PATH" >&2
    exit 1
  fi
done
