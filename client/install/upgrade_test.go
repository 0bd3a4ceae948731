package install_test

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/client/install"
)

// controllerCopy returns a copy of the built-in bundle name at version,
// whose cluster-wide names (namespace, cluster roles, CRD group) are
// prefixed so that it does not collide with other tests' copies; edit, if
// not nil, may then change, add or delete manifests by file name.
func controllerCopy(t *testing.T, name, prefix, version string, edit func(map[string]string)) *capabilities.Bundle {
	t.Helper()
	bs, err := loadBuiltins()
	if err != nil {
		t.Fatal(err)
	}
	c := *bs[name]
	c.Metadata.Version = version
	rename := strings.NewReplacer("capcenter-rollout", prefix+"-rollout",
		"capcenter:rollout-controller", prefix+":rollout-controller",
		"rollout.capcenter.dev", "rollout."+prefix+".test")
	files := map[string]string{}
	for _, f := range c.Manifests {
		files[f.Name] = rename.Replace(string(f.Data))
	}
	if edit != nil {
		edit(files)
	}
	c.Manifests = nil
	for _, n := range slices.Sorted(maps.Keys(files)) {
		c.Manifests = append(c.Manifests, capabilities.File{Name: n, Data: []byte(files[n])})
	}
	return &c
}

const takenManifest = `apiVersion: v1
kind: ConfigMap
metadata:
  name: taken
  namespace: upgrade-rollout
data:
  owner: capability
`

func TestUpgradePrune(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	e := newEnv(ctx, t, "upgrade")
	v1 := item(controllerCopy(t, "rollout-controller", "upgrade", "1.0.0", func(files map[string]string) {
		files["manifests/taken.yaml"] = takenManifest
	}))
	v2 := item(controllerCopy(t, "rollout-controller", "upgrade", "1.1.0", func(files map[string]string) {
		delete(files, "manifests/deployment.yaml")
		files["manifests/rbac.yaml"] = strings.Replace(files["manifests/rbac.yaml"], `verbs: ["update"]`, `verbs: ["update", "patch"]`, 1)
	}))
	if _, err := e.in.Install(ctx, []install.Item{v1}, install.Options{}); err != nil {
		t.Fatal(err)
	}
	// A person takes the ConfigMap over: the upgrade must leave it.
	cms := e.kube.CoreV1().ConfigMaps("upgrade-rollout")
	cm, err := cms.Get(ctx, "taken", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Labels[install.LabelCapability] = "someone-else"
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	checkUpgradeDiff(ctx, t, e, v2)
	res, err := e.in.Install(ctx, []install.Item{v2}, install.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p := res.Items[0].Pruned; len(p) != 1 || p[0].Kind != "Deployment" {
		t.Errorf("pruned %v, want the Deployment only", p)
	}
	deps := e.kube.AppsV1().Deployments("upgrade-rollout")
	if _, err := deps.Get(ctx, "rollout-controller", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("dropped Deployment: got %v, want not found", err)
	}
	if _, err := cms.Get(ctx, "taken", metav1.GetOptions{}); err != nil {
		t.Errorf("ConfigMap taken over: %v, want kept", err)
	}
	role, err := e.kube.RbacV1().ClusterRoles().Get(ctx, "upgrade:rollout-controller", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if verbs := role.Rules[2].Verbs; !slices.Equal(verbs, []string{"update", "patch"}) || role.Labels[install.LabelVersion] != "1.1.0" {
		t.Errorf("changed ClusterRole: verbs %v, labels %v", verbs, role.Labels)
	}
	recs, err := e.in.List(ctx)
	if err != nil || len(recs) != 1 {
		t.Fatalf("records: %+v, %v", recs, err)
	}
	r := recs[0]
	if !r.Installed() || r.Version != "1.1.0" || r.Digest != v2.Digest || len(r.Prune) != 0 ||
		slices.ContainsFunc(r.Objects, func(o install.ObjectRef) bool { return o.Kind == "Deployment" }) {
		t.Errorf("record after upgrade: %+v", r)
	}
}

// checkUpgradeDiff checks what Diff says v2 would do: delete the Deployment
// only (the ConfigMap is someone else's now) and update the ClusterRole's
// rules.
func checkUpgradeDiff(ctx context.Context, t *testing.T, e *env, v2 install.Item) {
	t.Helper()
	diffs, err := e.in.Diff(ctx, []install.Item{v2})
	if err != nil {
		t.Fatal(err)
	}
	var deleted []string
	for _, d := range diffs {
		switch {
		case d.Action == install.DiffDelete:
			deleted = append(deleted, d.Object.String())
		case d.Object.Kind == "ClusterRole":
			if d.Action != install.DiffUpdate || !slices.ContainsFunc(d.Fields, func(f string) bool { return strings.Contains(f, "rules[2].verbs") }) {
				t.Errorf("ClusterRole: %s %v, want an update of rules[2].verbs", d.Action, d.Fields)
			}
		}
	}
	if want := []string{"Deployment upgrade-rollout/rollout-controller"}; !slices.Equal(deleted, want) {
		t.Errorf("Diff deletes %v, want %v", deleted, want)
	}
}
