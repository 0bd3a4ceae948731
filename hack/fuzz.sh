#!/usr/bin/env bash
# fuzz.sh runs every Go fuzz target in the module for a short time each.
#
# Usage: hack/fuzz.sh [FUZZTIME]   (default 10s; any -fuzztime value, e.g. 5s or 1000x)
#
# `go test -fuzz` accepts a pattern that matches exactly one target in one
# package, so the targets are listed first (one `go test -list` run over the
# module) and then fuzzed one at a time. Inputs that fail are written by Go
# to the package's testdata/fuzz/<Target>/, which is committed so the failure
# becomes a regression test. Every target runs even after a failure; the
# script exits 1 at the end when any failed.
set -euo pipefail

fuzztime=${1:-10s}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

# Quiet when the module merely has no packages yet; on a real error run
# again so the message shows, and stop.
packages=$(go list ./... 2>/dev/null || go list ./...)
if [ -z "$packages" ]; then
  echo "fuzz: no Go packages yet: nothing to fuzz"
  exit 0
fi

# `go test -list` prints a package's matching names, then one "ok <pkg> <time>"
# line for that package; packages without tests print "? <pkg> [no test files]".
listing=$(go test -run '^$' -list '^Fuzz' ./...)
targets=$(awk '
  /^Fuzz[A-Za-z0-9_]*$/ { names[n++] = $1; next }
  $1 == "ok"            { for (i = 0; i < n; i++) print $2, names[i]; n = 0 }
' <<<"$listing")

if [ -z "$targets" ]; then
  echo "fuzz: no fuzz targets yet"
  exit 0
fi

failed=()
while read -r pkg name; do
  echo "fuzz: $pkg $name for $fuzztime"
  # Go spends up to a minute shrinking each new interesting input by
  # default, which for short runs leaves little time to fuzz: one second
  # keeps the runs fuzzing (a failure is still written, less shrunk).
  if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime 1s "$pkg" </dev/null; then
    failed+=("$pkg $name")
  fi
done <<<"$targets"

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: ${#failed[@]} target(s) failed:" >&2
  printf '  %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "fuzz: all $(wc -l <<<"$targets") target(s) passed"
