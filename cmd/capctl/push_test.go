package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPushPublishesOnceAndRefusesOtherContent(t *testing.T) {
	t.Parallel()
	addr := mustServe(t)
	out := mustCapctl(t, "--server", addr, "push", builtin("oam-definitions"), builtin("webservice"))
	rs := rows(out)
	if len(rs) != 2 || rs[0][0] != "oam-definitions@1.0.0" || rs[1][0] != "webservice@1.0.0" {
		t.Fatalf("push printed %q, want one line per bundle", out)
	}
	for _, r := range rs {
		if len(r) != 3 || !strings.HasPrefix(r[1], "sha256:") || r[2] != "published" {
			t.Errorf("push line %v, want NAME@VERSION DIGEST published", r)
		}
	}
	var again []pushResult
	if err := json.Unmarshal([]byte(mustCapctl(t, "--server", addr, "push", builtin("webservice"), "-o", "json")), &again); err != nil {
		t.Fatal(err)
	}
	if len(again) != 1 || again[0].Created || again[0].Digest != rs[1][1] {
		t.Errorf("pushing again = %+v, want unchanged with digest %s", again, rs[1][1])
	}

	dir := mustInit(t, "web", "1.0.0")
	mustCapctl(t, "--server", addr, "push", dir)
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("# web\n\nChanged.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := capctl(t, "--server", addr, "push", dir)
	if err == nil || !strings.HasPrefix(err.Error(), "web@1.0.0: already exists") {
		t.Errorf("pushing other content: err = %v, want web@1.0.0: already exists…", err)
	}
}

func TestPushRefusesAnInvalidBundleBeforeSending(t *testing.T) {
	t.Parallel()
	bad := filepath.Join("..", "..", "capabilities", "testdata", "bad")
	entries, err := os.ReadDir(bad)
	if err != nil || len(entries) == 0 {
		t.Fatalf("no bad fixtures: %v", err)
	}
	dir := filepath.Join(bad, entries[0].Name())
	_, err = capctl(t, "--server", "127.0.0.1:1", "push", dir)
	if err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("err = %v, want the local problems naming %s", err, dir)
	}
}
