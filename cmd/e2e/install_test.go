package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// kubeVersion is the API server hack/kube-assets.sh builds.
const kubeVersion = "v1.35.4"

// startCluster starts a real kube-apiserver and etcd (envtest, from
// $KUBEBUILDER_ASSETS or .tmp/kube/<version>) and returns a kubeconfig
// file for a cluster admin. A missing API server fails the test: install
// is tested against a real one only.
func startCluster(t testing.TB, e *env) string {
	t.Helper()
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		dir = filepath.Join(e.root, ".tmp", "kube", kubeVersion)
	}
	if _, err := os.Stat(filepath.Join(dir, "kube-apiserver")); err != nil {
		t.Fatalf("no kube-apiserver (%v): run hack/kube-assets.sh, or set KUBEBUILDER_ASSETS", err)
	}
	te := &envtest.Environment{BinaryAssetsDirectory: dir, ControlPlaneStartTimeout: 2 * time.Minute}
	start := time.Now()
	if _, err := te.Start(); err != nil {
		t.Fatalf("start the API server: %v", err)
	}
	t.Cleanup(func() { _ = te.Stop() })
	t.Logf("API server %s started in %s", kubeVersion, time.Since(start).Round(time.Millisecond))
	admin, err := te.AddUser(envtest.User{Name: "e2e-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := admin.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestInstall installs the rollout trait with the real capctl into a real
// API server, as a user would: trust the registry, install (which pulls
// rollout-controller and oam-definitions first, verified), list, install
// again (nothing to do), and refuses a registry the user does not trust
// before anything is applied.
func TestInstall(t *testing.T) {
	t.Parallel()
	e := binaries(t)
	kubeconfig := startCluster(t, e)
	d := startCapd(t, t.TempDir(), "--log-level", "warn")
	u := &user{e: e, server: d.grpc, policy: filepath.Join(t.TempDir(), "trust.yaml")}
	for _, b := range []string{"oam-definitions", "rollout-controller", "rollout"} {
		u.mustCapctl(t, "push", builtinDir(e, b))
	}

	// Not trusted yet: nothing may reach the cluster.
	out, errOut, code := u.capctl(t, "install", "rollout", "--kubeconfig", kubeconfig)
	if code == 0 || !strings.Contains(errOut, "trust fetch") {
		t.Fatalf("install without a trust policy: exit %d\n%s%s", code, out, errOut)
	}
	if out := u.mustCapctl(t, "list", "--installed", "--kubeconfig", kubeconfig); len(rows(out)) > 1 {
		t.Fatalf("a refused install left records:\n%s", out)
	}

	u.mustCapctl(t, "trust", "fetch", "--yes")
	out = u.mustCapctl(t, "install", "rollout", "--kubeconfig", kubeconfig)
	t.Logf("capctl install rollout:\n%s", out)
	for i, name := range []string{"oam-definitions@", "rollout-controller@", "rollout@"} {
		if !strings.Contains(out, name) {
			t.Errorf("install output lacks step %d, %s:\n%s", i+1, name, out)
		}
	}
	if strings.Index(out, "oam-definitions@") > strings.Index(out, "rollout@") {
		t.Errorf("rollout was installed before its dependencies:\n%s", out)
	}
	list := u.mustCapctl(t, "list", "--installed", "--kubeconfig", kubeconfig)
	if rs := rows(list); len(rs) != 4 {
		t.Fatalf("list --installed:\n%s\nwant a header and three capabilities", list)
	}
	for _, r := range rows(list)[1:] {
		if r[3] != "installed" {
			t.Errorf("record %s is %s", r[0], r[3])
		}
	}
	if out := u.mustCapctl(t, "install", "rollout", "--kubeconfig", kubeconfig); !strings.Contains(out, "Nothing to do") {
		t.Errorf("a second install printed:\n%s", out)
	}

	// Upgrade: rollout-controller 1.1.0 drops its Deployment; diff shows it,
	// upgrade prunes it.
	next := filepath.Join(t.TempDir(), "rollout-controller")
	copyDir(t, builtinDir(e, "rollout-controller"), next)
	setBundleVersion(t, next, "1.1.0")
	if err := os.Remove(filepath.Join(next, "manifests", "deployment.yaml")); err != nil {
		t.Fatal(err)
	}
	u.mustCapctl(t, "push", next)
	if diff := u.mustCapctl(t, "diff", "rollout-controller", "--upgrade", "--kubeconfig", kubeconfig); !strings.Contains(diff, "delete") || !strings.Contains(diff, "Deployment") {
		t.Errorf("diff --upgrade does not show the Deployment pruned:\n%s", diff)
	}
	out = u.mustCapctl(t, "upgrade", "rollout-controller", "--kubeconfig", kubeconfig)
	if !strings.Contains(out, "rollout-controller@1.1.0: installed") || !strings.Contains(out, "pruned 1 objects") {
		t.Errorf("upgrade printed:\n%s", out)
	}

	// Uninstall: refused while rollout needs the controller, then cascade.
	out, errOut, code = u.capctl(t, "uninstall", "rollout-controller", "--kubeconfig", kubeconfig)
	if code == 0 || !strings.Contains(errOut, "rollout") {
		t.Errorf("uninstall with a dependent installed: exit %d\n%s%s", code, out, errOut)
	}
	out = u.mustCapctl(t, "uninstall", "rollout-controller", "--cascade", "--kubeconfig", kubeconfig)
	if strings.Index(out, "rollout@") > strings.Index(out, "rollout-controller@") || !strings.Contains(out, "removed") {
		t.Errorf("uninstall --cascade printed (want rollout removed first):\n%s", out)
	}
	if list := u.mustCapctl(t, "list", "--installed", "--kubeconfig", kubeconfig); len(rows(list)) != 2 || !strings.Contains(list, "oam-definitions") {
		t.Errorf("after the cascade, list --installed:\n%s\nwant only oam-definitions", list)
	}

	// A bundle whose bytes changed on the registry's disk is refused before
	// anything of it reaches the cluster.
	u.mustCapctl(t, "push", builtinDir(e, "webservice"))
	layout := filepath.Join(t.TempDir(), "layout")
	u.mustCapctl(t, "pull", "webservice", "--oci-layout", layout)
	if err := d.stop(); err != nil {
		t.Fatalf("stopping capd: %v", err)
	}
	tamperLastLayer(t, d.data, layout, taggedDigest(t, layout, "1.0.0"))
	d = startCapd(t, d.data, "--log-level", "error")
	u.server = d.grpc
	out, errOut, code = u.capctl(t, "install", "webservice", "--kubeconfig", kubeconfig)
	if code == 0 || !strings.Contains(errOut, "does not match its digest") {
		t.Errorf("install of a tampered bundle: exit %d\n%s%s", code, out, errOut)
	}
	if list := u.mustCapctl(t, "list", "--installed", "--kubeconfig", kubeconfig); strings.Contains(list, "webservice") {
		t.Errorf("a refused install left a record:\n%s", list)
	}
}

// rows splits table output into lines of fields.
func rows(out string) [][]string {
	var rs [][]string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		rs = append(rs, strings.Fields(line))
	}
	return rs
}

// setBundleVersion rewrites the version in a bundle's capability.yaml.
func setBundleVersion(t *testing.T, dir, version string) {
	t.Helper()
	file := filepath.Join(dir, "capability.yaml")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	data = regexp.MustCompile(`(?m)^version: .*$`).ReplaceAll(data, []byte("version: "+version))
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
