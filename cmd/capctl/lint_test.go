package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLintPassesEveryBuiltin(t *testing.T) {
	t.Parallel()
	out := mustCapctl(t, "lint", "-R", "-o", "json", filepath.Join("..", "..", "capabilities", "builtin"))
	var results []lintResult
	if err := json.Unmarshal([]byte(out), &results); err != nil {
		t.Fatal(err)
	}
	if len(results) != 17 {
		t.Errorf("lint -R found %d built-in bundles, want 17", len(results))
	}
	for _, r := range results {
		if !r.OK {
			t.Errorf("%s: %v", r.Path, r.Problems)
		}
	}
}

// Every bad fixture fails lint with a message naming a file of the fixture;
// the capabilities tests assert each message exactly.
func TestLintFailsEveryBadFixture(t *testing.T) {
	t.Parallel()
	entries, err := os.ReadDir(filepath.Join("..", "..", "capabilities", "testdata", "bad"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 10 {
		t.Fatalf("found %d bad fixtures, want at least 10", len(entries))
	}
	for _, e := range entries {
		dir := filepath.Join("..", "..", "capabilities", "testdata", "bad", e.Name())
		out, err := capctl(t, "lint", dir)
		if err == nil {
			t.Errorf("lint %s passed:\n%s", e.Name(), out)
			continue
		}
		if !strings.Contains(out, "FAIL  "+dir) || !strings.Contains(out, dir+string(filepath.Separator)) {
			t.Errorf("lint %s does not say which file is wrong:\n%s", e.Name(), out)
		}
	}
}
