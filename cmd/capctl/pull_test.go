package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPullWritesAVerifiedBundle(t *testing.T) {
	t.Parallel()
	r := mustServeRegistry(t)
	addr, policy := r.Addr, r.WritePolicy(t, false)
	src := mustInit(t, "acme/web", "1.2.0")
	digest := rows(mustCapctl(t, "--server", addr, "push", src))[0][1]

	dir := filepath.Join(t.TempDir(), "pulled")
	out := mustCapctl(t, "--server", addr, "--trust-policy", policy, "pull", "acme/web", "--dir", dir)
	if want := "Pulled acme/web@1.2.0 (" + digest + ") into " + dir + `, signatures verified under trust rule "test"` + "\n"; out != want {
		t.Errorf("pull printed %q, want %q", out, want)
	}
	for _, f := range []string{"template.cue", "README.md", "examples/basic.yaml"} {
		a, _ := os.ReadFile(filepath.Join(src, f))
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs from the pushed one (%v)", f, err)
		}
	}
	if out := mustCapctl(t, "lint", dir); !strings.Contains(out, "acme/web 1.2.0") {
		t.Errorf("lint of the pulled folder printed %q", out)
	}
	if got := strings.TrimSpace(mustCapctl(t, "pack", dir, "--layout", filepath.Join(t.TempDir(), "oci"))); got != digest {
		t.Errorf("the pulled folder packs to %s, want %s", got, digest)
	}

	if _, err := capctl(t, "--server", addr, "--trust-policy", policy, "pull", "acme/web@1.2.0", "--dir", dir); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("pull into a full folder: err = %v, want a hint at --force", err)
	}
	stale := filepath.Join(dir, "manifests", "stale.yaml")
	if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, []byte("kind: Stale\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustCapctl(t, "--server", addr, "--trust-policy", policy, "pull", "acme/web@1.2.0", "--dir", dir, "--force")
	if _, err := os.Stat(stale); err == nil {
		t.Error("pull --force kept a manifest the bundle does not have")
	}
}

func TestPullErrors(t *testing.T) {
	t.Parallel()
	r := mustServeRegistry(t)
	addr, policy := r.Addr, r.WritePolicy(t, false)
	for _, tc := range []struct{ ref, want string }{
		{"webservice@9.9.9", "webservice@9.9.9: not found"},
		{"webservice", "webservice@latest: not found"},
		{"Bad_Name", `"Bad_Name": invalid argument`},
		{"webservice@", "empty version"},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			t.Parallel()
			_, err := capctl(t, "--server", addr, "--trust-policy", policy, "pull", tc.ref, "--dir", filepath.Join(t.TempDir(), "x"))
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
