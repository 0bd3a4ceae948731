package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRenderFromTheRegistry(t *testing.T) {
	t.Parallel()
	addr := mustServe(t)
	dir := mustInit(t, "web", "0.1.0")
	mustCapctl(t, "--server", addr, "push", dir)
	values := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(values, []byte("image: busybox:1.36\nreplicas: 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-f", values, "--set", "replicas=5", "--name", "api", "-n", "shop"}
	local := mustCapctl(t, append([]string{"render", dir}, args...)...)
	remote := mustCapctl(t, append([]string{"--server", addr, "render", "web@0.1.0"}, args...)...)
	if remote != local {
		t.Errorf("the registry rendered\n%s\nbut the folder renders\n%s", remote, local)
	}
	docs := documents(t, remote)
	if len(docs) != 1 || docs[0]["spec"].(map[string]any)["replicas"] != 5 {
		t.Errorf("render web@0.1.0 = %v, want one Deployment of 5 replicas", docs)
	}
	out := mustCapctl(t, "--server", addr, "render", "web", "--example", "basic", "-o", "json")
	if !strings.Contains(out, `"kind": "List"`) || !strings.Contains(out, `"image": "nginx:1.27"`) {
		t.Errorf("render web --example basic -o json = %s", out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"web"}, "parameter.image"},
		{[]string{"web@9.9.9", "--set", "image=x"}, "web@9.9.9: not found"},
		{[]string{"./missing-folder"}, "neither a bundle folder nor a capability"},
	} {
		_, err := capctl(t, append([]string{"--server", addr, "render"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("render %v: err = %v, want %q", tc.args, err, tc.want)
		}
	}
}
