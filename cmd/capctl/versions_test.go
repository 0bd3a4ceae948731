package main

import (
	"strings"
	"testing"
)

func TestVersionsNewestFirstWithState(t *testing.T) {
	t.Parallel()
	addr := mustServe(t)
	dir := mustInit(t, "web", "0.1.0")
	first := rows(mustCapctl(t, "--server", addr, "push", dir))[0][1]
	setVersion(t, dir, "0.2.0")
	second := rows(mustCapctl(t, "--server", addr, "push", dir))[0][1]
	mustCapctl(t, "--server", addr, "deprecate", "web@0.1.0", "--message", "use 0.2")

	rs := rows(mustCapctl(t, "--server", addr, "versions", "web"))
	if len(rs) != 3 || strings.Join(rs[0], " ") != "VERSION DIGEST CREATED STATE" {
		t.Fatalf("versions printed %v", rs)
	}
	for i, want := range []struct{ version, digest, state string }{
		{"0.2.0", second, "active"},
		{"0.1.0", first, "deprecated: use 0.2"},
	} {
		r := rs[i+1]
		if r[0] != want.version || !strings.HasPrefix(strings.TrimPrefix(want.digest, "sha256:"), r[1]) || len(r[1]) != 12 ||
			!strings.HasSuffix(r[2], "Z") || strings.Join(r[3:], " ") != want.state {
			t.Errorf("row %v, want %s %s… %s", r, want.version, want.digest, want.state)
		}
	}
	if out := mustCapctl(t, "--server", addr, "versions", "web", "-o", "json"); !strings.Contains(out, `"version": "0.2.0"`) {
		t.Errorf("versions -o json = %s", out)
	}
	if _, err := capctl(t, "--server", addr, "versions", "nope"); err == nil || err.Error() != "nope: not found" {
		t.Errorf("versions of a missing capability: err = %v", err)
	}
}
