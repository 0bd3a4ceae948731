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

# fuzz_one fuzzes one target, its output both shown and kept in $log.
# Go spends up to a minute shrinking each new interesting input by default,
# which for short runs leaves little time to fuzz: one second keeps the runs
# fuzzing (a failure is still written, less shrunk).
log=$(mktemp)
trap 'rm -f "$log"' EXIT
fuzz_one() {
  go test -run '^$' -fuzz "^${2}\$" -fuzztime "$fuzztime" -fuzzminimizetime 1s "$1" </dev/null 2>&1 | tee "$log"
  return "${PIPESTATUS[0]}"
}

# Go 1.26's fuzz coordinator can report "context deadline exceeded" as a
# failure when -fuzztime ends while a worker is mid-input on busy cores
# (go.dev/issue/75804, fixed in Go 1.27): no input failed and none is
# written. Such a run, and only such a run, is tried once more; any other
# failure, or the same one twice, fails the target.
deadline_flake() {
  grep -q 'context deadline exceeded' "$log" &&
    ! grep -qE 'Failing input written|panic:|^[[:space:]]+[^[:space:]]+_test\.go:[0-9]+:' "$log"
}

failed=()
while read -r pkg name; do
  echo "fuzz: $pkg $name for $fuzztime"
  if fuzz_one "$pkg" "$name"; then
    continue
  fi
  if deadline_flake; then
    echo "fuzz: $name: the Go 1.26 fuzztime-deadline race (go.dev/issue/75804), no failing input; once more"
    fuzz_one "$pkg" "$name" && continue
  fi
  failed+=("$pkg $name")
done <<<"$targets"

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: ${#failed[@]} target(s) failed:" >&2
  printf '  %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "fuzz: all $(wc -l <<<"$targets") target(s) passed"
