package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// bundleWith scaffolds capability name at version with capctl init and
// gives it exactly deps (name -> range), returning its folder.
func bundleWith(t *testing.T, u *user, name, version string, deps map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bundle")
	u.mustCapctl(t, "init", name, "--dir", dir)
	file := filepath.Join(dir, "capability.yaml")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	data = regexp.MustCompile(`(?m)^version: .*$`).ReplaceAll(data, []byte("version: "+version))
	var block strings.Builder
	if len(deps) > 0 {
		block.WriteString("dependencies:\n")
		for n, r := range deps {
			block.WriteString("  - name: " + n + "\n    version: '" + r + "'\n")
		}
	}
	// The scaffold's dependencies block is its last.
	data = regexp.MustCompile(`(?ms)^dependencies:.*`).ReplaceAll(data, []byte(block.String()))
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestResolve publishes capabilities whose ranges conflict, with the real
// binaries, and checks that capctl resolve finds the plan that exists,
// explains the conflict that cannot be solved (exiting non-zero), and that
// capctl lock writes a lock that capctl resolve --lock accepts offline.
func TestResolve(t *testing.T) {
	t.Parallel()
	e := binaries(t)
	d := startCapd(t, t.TempDir(), "--log-level", "warn")
	u := &user{e: e, server: d.grpc, policy: filepath.Join(t.TempDir(), "trust.yaml")}
	for _, b := range []struct {
		name, version string
		deps          map[string]string
	}{
		{"rollout-controller", "1.5.0", nil},
		{"rollout-controller", "2.0.0", nil},
		{"rollout", "1.9.0", map[string]string{"rollout-controller": "^1.0.0"}},
		{"rollout", "2.1.0", map[string]string{"rollout-controller": ">=2.0.0"}},
		{"gateway", "1.4.0", map[string]string{"rollout-controller": "<2.0.0"}},
	} {
		u.mustCapctl(t, "push", bundleWith(t, u, b.name, b.version, b.deps))
	}

	// rollout alone takes the newest line; with gateway the solver must go
	// back to rollout 1.9.0.
	out := u.mustCapctl(t, "resolve", "rollout", "gateway", "-o", "yaml")
	for _, want := range []string{"name: rollout-controller\n  version: 1.5.0", "name: rollout\n  version: 1.9.0", "name: gateway\n  version: 1.4.0"} {
		if !strings.Contains(out, want) {
			t.Errorf("resolve rollout gateway lacks %q:\n%s", want, out)
		}
	}
	if strings.Index(out, "rollout-controller") > strings.Index(out, "name: rollout\n") {
		t.Errorf("resolve put rollout before its controller:\n%s", out)
	}

	out, errOut, code := u.capctl(t, "resolve", "rollout@^2", "gateway@1.4.0")
	if code == 0 {
		t.Fatalf("resolve of conflicting capabilities exited 0:\n%s", out)
	}
	for _, want := range []string{"rollout 2.1.0 depends on rollout-controller >=2.0.0", "gateway 1.4.0 depends on rollout-controller <2.0.0"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("the explanation lacks %q:\n%s", want, errOut)
		}
	}
	t.Logf("capctl resolve rollout@^2 gateway@1.4.0 said:\n%s", errOut)

	lock := filepath.Join(t.TempDir(), "capcenter.lock")
	u.mustCapctl(t, "lock", "rollout", "gateway", "--file", lock)
	out = u.mustCapctl(t, "resolve", "--lock", lock)
	if !strings.Contains(out, "rollout-controller") || !strings.Contains(out, "1.9.0") {
		t.Errorf("resolve --lock printed %q", out)
	}
	if err := d.stop(); err != nil {
		t.Fatalf("stopping capd: %v", err)
	}
	// Offline: capd is gone, and the lock still answers.
	if _, errOut, code := u.capctl(t, "resolve", "--lock", lock, "rollout@^2"); code == 0 || !strings.Contains(errOut, "does not satisfy") {
		t.Errorf("resolve --lock with a requirement the lock cannot meet: exit %d\n%s", code, errOut)
	}
	if out := u.mustCapctl(t, "resolve", "--lock", lock); !strings.Contains(out, "gateway") {
		t.Errorf("resolve --lock without capd printed %q", out)
	}
}
