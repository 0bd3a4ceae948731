package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// capctl runs the command line in-process and returns what it printed.
func capctl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, streams{in: strings.NewReader(""), out: &out, err: &errOut})
	return out.String() + errOut.String(), err
}

func mustCapctl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := capctl(t, args...)
	if err != nil {
		t.Fatalf("capctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// documents decodes a multi-document YAML stream.
func documents(t *testing.T, stream string) []map[string]any {
	t.Helper()
	var docs []map[string]any
	dec := yaml.NewDecoder(strings.NewReader(stream))
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			if err.Error() == "EOF" {
				return docs
			}
			t.Fatalf("output is not YAML: %v\n%s", err, stream)
		}
		docs = append(docs, doc)
	}
}

func kinds(docs []map[string]any) []string {
	var ks []string
	for _, d := range docs {
		k, _ := d["kind"].(string)
		ks = append(ks, k)
	}
	return ks
}

func TestInitScaffoldsBundlesThatLintAndRender(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"component", "trait", "policy", "controller"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "thing")
			out := mustCapctl(t, "init", "acme/thing", "--kind", kind, "--dir", dir)
			if !strings.Contains(out, "Created "+kind+" bundle acme/thing") {
				t.Errorf("init printed %q", out)
			}
			out = mustCapctl(t, "lint", dir)
			if !strings.Contains(out, "acme/thing 0.1.0 ("+kind+")") {
				t.Errorf("lint printed %q", out)
			}
			if _, err := capctl(t, "init", "acme/thing", "--kind", kind, "--dir", dir); err == nil || !strings.Contains(err.Error(), "not empty") {
				t.Errorf("init into a full folder: err = %v, want 'not empty'", err)
			}
		})
	}
}

func TestInitRefusesBadInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ args, want string }{
		{"init Bad_Name", "want lower-case letters"},
		{"init ok --kind workflow", `--kind "workflow"`},
	} {
		_, err := capctl(t, append(strings.Fields(tc.args), "--dir", filepath.Join(t.TempDir(), "x"))...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("capctl %s: err = %v, want it to contain %q", tc.args, err, tc.want)
		}
	}
}

func TestRenderComponentFlags(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "web")
	mustCapctl(t, "init", "web", "--dir", dir)
	values := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(values, []byte("image: busybox:1.36\nreplicas: 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := mustCapctl(t, "render", dir, "-f", values, "--set", "replicas=5", "--set-string", "image=registry.local/app:7",
		"--name", "api", "-n", "shop")
	docs := documents(t, out)
	if len(docs) != 1 {
		t.Fatalf("render printed %d objects, want 1:\n%s", len(docs), out)
	}
	spec := docs[0]["spec"].(map[string]any)
	if spec["replicas"] != 5 {
		t.Errorf("replicas = %v, want 5 (--set wins over -f)", spec["replicas"])
	}
	if name := docs[0]["metadata"].(map[string]any)["name"]; name != "api" {
		t.Errorf("metadata.name = %v, want api from --name", name)
	}
	if !strings.Contains(out, "image: registry.local/app:7") {
		t.Errorf("--set-string image not rendered:\n%s", out)
	}

	out = mustCapctl(t, "render", dir, "--set", "image=x", "-o", "json")
	var list struct {
		Kind  string           `json:"kind"`
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil || list.Kind != "List" || len(list.Items) != 1 {
		t.Errorf("-o json = %q (%v), want a List of one item", out, err)
	}
}

func TestRenderParameterErrorsNameThePath(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "web")
	mustCapctl(t, "init", "web", "--dir", dir)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "parameter.image: required, not set"},
		{[]string{"--set", "image=x", "--set", "replicas=many"}, "parameter.replicas:"},
		{[]string{"--set", "image=x", "--set", "flavor=red"}, "parameter.flavor: unknown parameter"},
		{[]string{"--set", "image=x", "--set", "port=70000"}, "parameter.port:"},
		{[]string{"--set", "=x"}, "want path=value"},
		{[]string{"--set", "image=x", "-o", "xml"}, `-o "xml"`},
		{[]string{"--example", "nope"}, `no example "nope"`},
		{[]string{"--cluster-version", "latest", "--set", "image=x"}, "--cluster-version"},
	} {
		_, err := capctl(t, append([]string{"render", dir}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("render %v: err = %v, want it to contain %q", tc.args, err, tc.want)
		}
	}
}

func TestImportKubeVelaDefinitions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file, name, kind string
		render           []string
		wantKinds        []string
		wantText         string
	}{
		{"sidecar.cue", "sidecar", "trait", []string{"--set", "name=proxy", "--set", "image=envoy:1.30", "--app", "shop"},
			[]string{"Deployment"}, "value: SHOP"},
		{"statefulservice.cue", "stateful-service", "component", []string{"--set", "image=postgres:16", "--cluster-version", "v1.31.2"},
			[]string{"StatefulSet", "Service"}, `capcenter.dev/cluster-minor: "31"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), tc.name)
			src := filepath.Join("testdata", "import", tc.file)
			out := mustCapctl(t, "import", src, "--dir", dir, "--version", "1.2.3")
			if !strings.Contains(out, "Imported "+tc.name+" 1.2.3 ("+tc.kind+")") {
				t.Errorf("import printed %q", out)
			}
			orig, _ := os.ReadFile(src)
			copied, _ := os.ReadFile(filepath.Join(dir, "template.cue"))
			if !bytes.Equal(orig, copied) {
				t.Error("template.cue is not the imported file unchanged")
			}
			mustCapctl(t, "lint", dir)
			out = mustCapctl(t, append([]string{"render", dir}, tc.render...)...)
			if got := kinds(documents(t, out)); strings.Join(got, ",") != strings.Join(tc.wantKinds, ",") {
				t.Errorf("rendered kinds %v, want %v", got, tc.wantKinds)
			}
			if !strings.Contains(out, tc.wantText) {
				t.Errorf("render output lacks %q:\n%s", tc.wantText, out)
			}
		})
	}
}

func TestImportRefusesBrokenDefinition(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "broken.cue")
	if err := os.WriteFile(file, []byte("broken: {type: \"trait\"}\ntemplate: {\n\tpatch: {\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "out")
	_, err := capctl(t, "import", file, "--dir", dir)
	if err == nil || !strings.Contains(err.Error(), "broken.cue:") {
		t.Fatalf("err = %v, want a position in broken.cue", err)
	}
	if _, statErr := os.Stat(dir); statErr == nil {
		t.Error("a failed import wrote its folder")
	}
}

func TestSchemaFormats(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "web")
	mustCapctl(t, "init", "web", "--dir", dir)
	out := mustCapctl(t, "schema", dir, "-o", "table")
	rows := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			rows[f[0]] = strings.Join(f[1:], " ")
		}
	}
	for name, want := range map[string]string{
		"PARAMETER": "TYPE REQUIRED DEFAULT DESCRIPTION",
		"image":     "string yes The container image to run",
		"replicas":  "integer no 1 How many pods to run",
		"port":      "integer no The port the container listens on",
	} {
		if rows[name] != want {
			t.Errorf("schema table row %s = %q, want %q", name, rows[name], want)
		}
	}
	var schema struct {
		Type       string                     `json:"type"`
		Required   []string                   `json:"required"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal([]byte(mustCapctl(t, "schema", dir)), &schema); err != nil {
		t.Fatal(err)
	}
	if schema.Type != "object" || strings.Join(schema.Required, ",") != "image" || len(schema.Properties) != 3 {
		t.Errorf("schema = %+v, want an object requiring image with 3 properties", schema)
	}
}

func TestPackPrintsTheSameDigestForTheSameBundle(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "web")
	mustCapctl(t, "init", "web", "--dir", dir)
	first := strings.TrimSpace(mustCapctl(t, "pack", dir, "--layout", filepath.Join(t.TempDir(), "a")))
	var res packResult
	if err := json.Unmarshal([]byte(mustCapctl(t, "pack", dir, "--layout", filepath.Join(t.TempDir(), "b"), "-o", "json")), &res); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(first, "sha256:") || res.Digest != first {
		t.Errorf("digests %q and %q, want the same sha256 digest", first, res.Digest)
	}
	if res.Name != "web" || res.Version != "0.1.0" {
		t.Errorf("pack -o json = %+v", res)
	}
	index, err := os.ReadFile(filepath.Join(filepath.Dir(res.Layout), "b", "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(index), `"org.opencontainers.image.ref.name":"0.1.0"`) {
		t.Errorf("the layout's index.json does not tag the version: %s", index)
	}
}
