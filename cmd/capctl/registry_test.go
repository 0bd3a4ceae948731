package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/capcenter/capcenter/server"
	"github.com/capcenter/capcenter/server/servertest"
)

// mustServe starts a real registry (capd's service over an embedded store
// in a temporary folder) on a loopback port and returns its address, for
// --server.
func mustServe(t *testing.T) string {
	t.Helper()
	r := mustServeRegistry(t)
	return r.Addr
}

// mustServeRegistry is mustServe returning the registry, for its keys and
// a trust policy trusting them (see servertest.Registry.WritePolicy).
func mustServeRegistry(t *testing.T) *servertest.Registry {
	t.Helper()
	return servertest.Start(t, server.Config{})
}

// builtin is the folder of a built-in bundle.
func builtin(name string) string {
	return filepath.Join("..", "..", "capabilities", "builtin", name)
}

// mustInit scaffolds a component bundle named name at version and returns
// its folder.
func mustInit(t *testing.T, name, version string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bundle")
	mustCapctl(t, "init", name, "--dir", dir)
	setVersion(t, dir, version)
	return dir
}

// setVersion rewrites the version in a bundle's capability.yaml.
func setVersion(t *testing.T, dir, version string) {
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

// rows splits table output into lines of fields.
func rows(out string) [][]string {
	var rs [][]string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		rs = append(rs, strings.Fields(line))
	}
	return rs
}

func TestServerFlagDefaultsToTheEnvironment(t *testing.T) {
	t.Setenv(serverEnv, "capd.example:1234")
	root := newRootCmd(streams{})
	if got := root.PersistentFlags().Lookup("server").DefValue; got != "capd.example:1234" {
		t.Errorf("--server defaults to %q, want $%s", got, serverEnv)
	}
}

func TestUnreachableServer(t *testing.T) {
	t.Parallel()
	_, err := capctl(t, "--server", "127.0.0.1:1", "show", "webservice")
	if err == nil || !strings.HasPrefix(err.Error(), "webservice@latest: unavailable") {
		t.Errorf("err = %v, want webservice@latest: unavailable…", err)
	}
}
