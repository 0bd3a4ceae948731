package builtin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"
	"sigs.k8s.io/yaml"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/capabilities/builtin"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

func loadAll(t *testing.T) []*capabilities.Bundle {
	t.Helper()
	bundles, err := builtin.Load(context.Background(), capabilities.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return bundles
}

func TestTheIssueListIsShipped(t *testing.T) {
	t.Parallel()
	want := []string{
		"annotations", "cron-task", "daemon", "env", "expose", "gateway", "hpa", "labels",
		"oam-definitions", "resource", "rollout", "rollout-controller", "scaler", "storage",
		"task", "webservice", "worker",
	}
	if got := builtin.Names(); !slices.Equal(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
	kinds := map[string]capabilities.Kind{}
	for _, b := range loadAll(t) {
		kinds[b.Metadata.Name] = b.Metadata.Kind
		if len(b.Readme) == 0 {
			t.Errorf("%s has no README", b.Metadata.Name)
		}
		if b.Metadata.Kind.HasTemplate() && len(b.Examples) == 0 {
			t.Errorf("%s has no example", b.Metadata.Name)
		}
	}
	for name, kind := range map[string]capabilities.Kind{
		"webservice": "component", "worker": "component", "task": "component", "cron-task": "component", "daemon": "component",
		"scaler": "trait", "hpa": "trait", "expose": "trait", "gateway": "trait", "labels": "trait", "annotations": "trait",
		"env": "trait", "storage": "trait", "resource": "trait", "rollout": "trait",
		"rollout-controller": "controller", "oam-definitions": "controller",
	} {
		if kinds[name] != kind {
			t.Errorf("%s is a %q, want a %q", name, kinds[name], kind)
		}
	}
}

// Every definition needs the OAM CRDs in the cluster, the rollout trait its
// controller, and every dependency must name a built-in whose version fits.
func TestDependenciesResolveAmongBuiltins(t *testing.T) {
	t.Parallel()
	bundles := loadAll(t)
	versions := map[string]*semver.Version{}
	for _, b := range bundles {
		versions[b.Metadata.Name] = semver.MustParse(b.Metadata.Version)
	}
	for _, b := range bundles {
		deps := map[string]string{}
		for _, d := range b.Metadata.Dependencies {
			deps[d.Name] = d.Version
			c, err := semver.NewConstraint(d.Version)
			if err != nil {
				t.Fatal(err)
			}
			v, ok := versions[d.Name]
			if !ok || !c.Check(v) {
				t.Errorf("%s depends on %s %s, which no built-in satisfies", b.Metadata.Name, d.Name, d.Version)
			}
		}
		if b.Metadata.Kind.HasTemplate() && deps["oam-definitions"] == "" {
			t.Errorf("%s does not depend on oam-definitions", b.Metadata.Name)
		}
	}
	for _, b := range bundles {
		if b.Metadata.Name == "rollout" && !slices.ContainsFunc(b.Metadata.Dependencies, func(d capabilities.Dependency) bool {
			return d.Name == "rollout-controller"
		}) {
			t.Error("rollout does not depend on rollout-controller")
		}
	}
}

// Every example of every built-in renders to the objects in its golden file.
// Traits render against the sample Deployment; run with -update after a
// deliberate change, and read the diff.
func TestExamplesRenderToGoldenFiles(t *testing.T) {
	t.Parallel()
	for _, b := range loadAll(t) {
		for _, ex := range b.Examples {
			name := strings.TrimSuffix(filepath.Base(ex.Name), filepath.Ext(ex.Name))
			t.Run(b.Metadata.Name+"/"+name, func(t *testing.T) {
				t.Parallel()
				params, err := capabilities.ParseParameters(ex.Name, ex.Data)
				if err != nil {
					t.Fatal(err)
				}
				r, err := b.Render(context.Background(), capabilities.RenderOptions{Parameters: params})
				if err != nil {
					t.Fatal(err)
				}
				got := yamlStream(t, r.Objects())
				for _, obj := range r.Objects() {
					checkObject(t, obj)
				}
				golden := filepath.Join("testdata", "golden", b.Metadata.Name, name+".yaml")
				if *update {
					if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(golden, got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test -update to create it)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("render differs from %s:\n--- got\n%s\n--- want\n%s", golden, got, want)
				}
			})
		}
	}
}

func TestWebserviceExposedRendersDeploymentAndService(t *testing.T) {
	t.Parallel()
	for _, b := range loadAll(t) {
		if b.Metadata.Name != "webservice" {
			continue
		}
		params, err := b.Example("exposed")
		if err != nil {
			t.Fatal(err)
		}
		r, err := b.Render(context.Background(), capabilities.RenderOptions{Parameters: params})
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, o := range r.Objects() {
			kinds = append(kinds, o["kind"].(string))
		}
		if !slices.Equal(kinds, []string{"Deployment", "Service"}) {
			t.Fatalf("kinds = %v, want Deployment then Service", kinds)
		}
		dep, svc := r.Objects()[0], r.Objects()[1]
		podLabels := dig(dep, "spec", "template", "metadata", "labels").(map[string]any)
		for k, v := range dig(svc, "spec", "selector").(map[string]any) {
			if podLabels[k] != v {
				t.Errorf("service selector %s=%v does not match the pod labels %v", k, v, podLabels)
			}
		}
		return
	}
	t.Fatal("no webservice built-in")
}

func dig(obj map[string]any, path ...string) any {
	var cur any = obj
	for _, p := range path {
		m, _ := cur.(map[string]any)
		cur = m[p]
	}
	return cur
}

// checkObject asserts what every Kubernetes object needs.
func checkObject(t *testing.T, obj capabilities.Object) {
	t.Helper()
	meta, _ := obj["metadata"].(map[string]any)
	for field, v := range map[string]any{"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata.name": meta["name"]} {
		if s, _ := v.(string); s == "" {
			t.Errorf("rendered object without %s: %v", field, obj)
		}
	}
}

func yamlStream(t *testing.T, objs []capabilities.Object) []byte {
	t.Helper()
	var buf bytes.Buffer
	for i, o := range objs {
		if i > 0 {
			buf.WriteString("---\n")
		}
		data, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		y, err := yaml.JSONToYAML(data)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(y)
	}
	return buf.Bytes()
}
