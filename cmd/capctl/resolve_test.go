package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolveLockAndOffline(t *testing.T) {
	t.Parallel()
	addr := mustServe(t)
	for _, b := range []string{"oam-definitions", "webservice", "hpa"} {
		mustCapctl(t, "--server", addr, "push", builtin(b))
	}
	out := mustCapctl(t, "--server", addr, "resolve", "webservice@^1", "hpa")
	rs := rows(out)
	if len(rs) != 4 || rs[1][1] != "oam-definitions" || rs[1][4] != "install" {
		t.Fatalf("resolve printed:\n%s\nwant a header and oam-definitions first of three steps", out)
	}
	out = mustCapctl(t, "--server", addr, "resolve", "webservice", "--installed", "oam-definitions@1.0.0")
	if !strings.Contains(out, "keep (installed)") {
		t.Errorf("resolve with oam-definitions installed printed:\n%s", out)
	}

	_, err := capctl(t, "--server", addr, "resolve", "webservice@^2")
	if err == nil || !strings.Contains(err.Error(), "cannot resolve webservice@^2:\n") || !strings.Contains(err.Error(), "you asked for webservice ^2") {
		t.Errorf("resolve of a missing version: %v; want the explanation", err)
	}
	for _, bad := range [][]string{{"resolve"}, {"resolve", "Web"}, {"resolve", "webservice@>>1"}, {"resolve", "webservice", "--installed", "hpa"}, {"resolve", "webservice", "--kubernetes", "new"}} {
		if _, err := capctl(t, append([]string{"--server", addr}, bad...)...); err == nil {
			t.Errorf("capctl %v succeeded", bad)
		}
	}

	lock := filepath.Join(t.TempDir(), "capcenter.lock")
	out = mustCapctl(t, "--server", addr, "lock", "webservice", "hpa", "--kubernetes", "1.30.0", "--file", lock)
	if !strings.HasPrefix(out, "Locked 3 capabilities into "+lock) {
		t.Errorf("lock printed %q", out)
	}
	data, err := os.ReadFile(lock)
	if err != nil || !strings.Contains(string(data), "kubernetes: 1.30.0") || !strings.Contains(string(data), "range: ^1.0.0") {
		t.Errorf("lock file = %s (%v)", data, err)
	}
	// Offline: no server at all.
	out = mustCapctl(t, "--server", "127.0.0.1:1", "resolve", "--lock", lock)
	if len(rows(out)) != 4 {
		t.Errorf("resolve --lock printed:\n%s", out)
	}
	if _, err := capctl(t, "--server", "127.0.0.1:1", "resolve", "--lock", lock, "--kubernetes", "1.20.0"); err == nil || !strings.Contains(err.Error(), "does not satisfy") {
		t.Errorf("resolve --lock for an older cluster: %v; want the lock refused with an explanation", err)
	}
}
