package install_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/capabilities/builtin"
	"github.com/capcenter/capcenter/client/install"
)

// testTimeout bounds every test.
const testTimeout = 3 * time.Minute

var loadBuiltins = sync.OnceValues(func() (map[string]*capabilities.Bundle, error) {
	out := map[string]*capabilities.Bundle{}
	for _, name := range []string{"oam-definitions", "rollout-controller", "rollout"} {
		sub, err := fs.Sub(builtin.FS(), name)
		if err != nil {
			return nil, err
		}
		b, err := capabilities.LoadFS(context.Background(), sub, capabilities.Limits{})
		if err != nil {
			return nil, err
		}
		out[name] = b
	}
	return out, nil
})

// item makes a plan item of b, with a digest derived from its files.
func item(b *capabilities.Bundle) install.Item {
	h := sha256.New()
	for _, f := range b.Files() {
		h.Write([]byte(f.Name))
		h.Write(f.Data)
	}
	var deps []string
	for _, d := range b.Metadata.Dependencies {
		deps = append(deps, d.Name)
	}
	return install.Item{Name: b.Metadata.Name, Version: b.Metadata.Version,
		Digest: "sha256:" + hex.EncodeToString(h.Sum(nil)), Dependencies: deps, Bundle: b}
}

// rolloutPlan is the plan for the built-in rollout trait, dependencies
// first.
func rolloutPlan(t *testing.T) []install.Item {
	t.Helper()
	bs, err := loadBuiltins()
	if err != nil {
		t.Fatal(err)
	}
	return []install.Item{item(bs["oam-definitions"]), item(bs["rollout-controller"]), item(bs["rollout"])}
}

// env is one test's view of the cluster: its own namespace, which also
// holds its records and definitions, and an installer whose applies are
// recorded.
type env struct {
	ns   string
	in   *install.Installer
	rec  *applyRecorder
	kube kubernetes.Interface
	dyn  dynamic.Interface
}

func newEnv(ctx context.Context, t *testing.T, name string) *env {
	t.Helper()
	kube := kubernetes.NewForConfigOrDie(restConfig)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg, rec := recording(restConfig)
	in, err := install.New(install.Config{REST: cfg, Namespace: name, DefinitionNamespace: name + "-defs", RecordNamespace: name + "-records"})
	if err != nil {
		t.Fatal(err)
	}
	return &env{ns: name, in: in, rec: rec, kube: kube, dyn: dynamic.NewForConfigOrDie(restConfig)}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

func TestInstallRollout(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	e := newEnv(ctx, t, "rollout")
	plan := rolloutPlan(t)

	start := time.Now()
	res, err := e.in.Install(ctx, plan, install.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("installed the rollout plan in %s, %d applies", time.Since(start).Round(time.Millisecond), len(e.rec.Calls()))
	if len(res.Items) != 3 {
		t.Fatalf("got %d item results, want 3", len(res.Items))
	}
	for _, ir := range res.Items {
		if ir.Skipped || len(ir.Applied) == 0 || ir.Duration == 0 {
			t.Errorf("%s: skipped %v, applied %v, took %s", ir.Name, ir.Skipped, ir.Applied, ir.Duration)
		}
	}
	checkApplyOrder(t, e.rec.Calls())
	checkEstablishedFirst(ctx, t, e)
	checkStamped(ctx, t, e, plan, res)
	checkRecords(ctx, t, e, plan)
	checkDefinition(ctx, t, e, plan[2].Bundle)

	// Installing the same digests again changes nothing.
	e.rec.Reset()
	res, err = e.in.Install(ctx, plan, install.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if calls := e.rec.Calls(); len(calls) != 0 {
		t.Errorf("second install applied %d objects, want none: %v", len(calls), calls)
	}
	for _, ir := range res.Items {
		if !ir.Skipped {
			t.Errorf("second install: %s not skipped", ir.Name)
		}
	}
}

// checkApplyOrder checks that within each capability, CRDs come first, then
// namespaces, RBAC, the rest, and the definition object last.
func checkApplyOrder(t *testing.T, calls []string) {
	t.Helper()
	tier := func(path string) int {
		switch {
		case strings.Contains(path, "/customresourcedefinitions/"):
			return 0
		case strings.Contains(path, "/api/v1/namespaces/") && strings.Count(path, "/") == 4:
			return 1
		case strings.Contains(path, "/serviceaccounts/"), strings.Contains(path, "/rbac.authorization.k8s.io/"):
			return 2
		case strings.Contains(path, "/apis/core.oam.dev/"):
			return 4
		}
		return 3
	}
	crd := slices.IndexFunc(calls, func(c string) bool { return strings.HasSuffix(c, "/traitdefinitions.core.oam.dev") })
	def := slices.IndexFunc(calls, func(c string) bool { return strings.Contains(c, "/traitdefinitions/rollout") })
	if crd < 0 || def < 0 || crd > def {
		t.Errorf("TraitDefinition CRD applied at %d, TraitDefinition at %d: %v", crd, def, calls)
	}
	last, record := -1, "/configmaps/capcenter."
	for _, c := range calls {
		if strings.Contains(c, record) {
			last = -1 // a record write starts the next capability
			continue
		}
		if tr := tier(c); tr < last {
			t.Errorf("%s applied after a later tier: %v", c, calls)
		} else {
			last = tr
		}
	}
}

// checkEstablishedFirst checks that the TraitDefinition CRD was Established
// no later than the TraitDefinition was created.
func checkEstablishedFirst(ctx context.Context, t *testing.T, e *env) {
	t.Helper()
	crd, err := e.dyn.Resource(gvr("apiextensions.k8s.io", "v1", "customresourcedefinitions")).Get(ctx, "traitdefinitions.core.oam.dev", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	def, err := e.dyn.Resource(traitDefs).Namespace(e.ns+"-defs").Get(ctx, "rollout", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		m := c.(map[string]any)
		if m["type"] != "Established" {
			continue
		}
		at, err := time.Parse(time.RFC3339, m["lastTransitionTime"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if created := def.GetCreationTimestamp().Time; created.Before(at) {
			t.Errorf("TraitDefinition created at %s, before its CRD was established at %s", created, at)
		}
		return
	}
	t.Errorf("CRD has no Established condition: %v", conds)
}

var traitDefs = gvr("core.oam.dev", "v1beta1", "traitdefinitions")

func gvr(group, version, resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: group, Version: version, Resource: resource}
}

// checkStamped checks the labels and annotation of a few applied objects of
// each kind.
func checkStamped(ctx context.Context, t *testing.T, e *env, plan []install.Item, res *install.Result) {
	t.Helper()
	for i, ir := range res.Items {
		for _, ref := range ir.Applied {
			u := getRef(ctx, t, e, ref)
			if u == nil {
				continue
			}
			labels, ann := u.GetLabels(), u.GetAnnotations()
			if labels[install.LabelCapability] != plan[i].Name || labels[install.LabelVersion] != plan[i].Version || ann[install.AnnotationDigest] != plan[i].Digest {
				t.Errorf("%s: labels %v, annotations %v", ref, labels, ann)
			}
		}
	}
}

// getRef reads the object ref names, through the resources the plan uses.
func getRef(ctx context.Context, t *testing.T, e *env, ref install.ObjectRef) *unstructured.Unstructured {
	t.Helper()
	u, err := getRefErr(ctx, t, e, ref)
	if err != nil {
		t.Errorf("%s: %v", ref, err)
		return nil
	}
	return u
}

// getRefErr reads the object ref names, through the resources the plans of
// these tests use, and returns the API server's error.
func getRefErr(ctx context.Context, t *testing.T, e *env, ref install.ObjectRef) (*unstructured.Unstructured, error) {
	t.Helper()
	resources := map[string]string{
		"CustomResourceDefinition": "customresourcedefinitions", "Namespace": "namespaces", "ServiceAccount": "serviceaccounts",
		"ClusterRole": "clusterroles", "ClusterRoleBinding": "clusterrolebindings", "Role": "roles", "RoleBinding": "rolebindings",
		"Deployment": "deployments", "TraitDefinition": "traitdefinitions", "ConfigMap": "configmaps",
	}
	res, ok := resources[ref.Kind]
	if !ok {
		t.Fatalf("%s: no resource known for kind %s", ref, ref.Kind)
	}
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		t.Fatal(err)
	}
	return e.dyn.Resource(gv.WithResource(res)).Namespace(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
}

func checkRecords(ctx context.Context, t *testing.T, e *env, plan []install.Item) {
	t.Helper()
	recs, err := e.in.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(plan) {
		t.Fatalf("got %d records, want %d: %+v", len(recs), len(plan), recs)
	}
	for _, it := range plan {
		i := slices.IndexFunc(recs, func(r install.Record) bool { return r.Name == it.Name })
		if i < 0 {
			t.Errorf("no record of %s", it.Name)
			continue
		}
		r := recs[i]
		if !r.Installed() || r.Digest != it.Digest || r.Version != it.Version || len(r.Objects) == 0 || r.Time.IsZero() ||
			!slices.Equal(r.Dependencies, it.Dependencies) {
			t.Errorf("record of %s: %+v", it.Name, r)
		}
	}
}

func checkDefinition(ctx context.Context, t *testing.T, e *env, b *capabilities.Bundle) {
	t.Helper()
	def, err := e.dyn.Resource(traitDefs).Namespace(e.ns+"-defs").Get(ctx, "rollout", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tmpl, _, _ := unstructured.NestedString(def.Object, "spec", "schematic", "cue", "template")
	if tmpl == "" || tmpl != b.Definition.Template {
		t.Errorf("template: got %q, want %q", tmpl, b.Definition.Template)
	}
	applies, _, _ := unstructured.NestedStringSlice(def.Object, "spec", "appliesToWorkloads")
	if !slices.Equal(applies, b.Metadata.AppliesTo) {
		t.Errorf("appliesToWorkloads: got %v, want %v", applies, b.Metadata.AppliesTo)
	}
	if got := def.GetAnnotations()[install.AnnotationDescription]; got != b.Definition.Description {
		t.Errorf("description: got %q", got)
	}
}

// bundle builds a controller bundle from manifests, named name.
func bundle(ctx context.Context, t *testing.T, name, requires string, manifests string) *capabilities.Bundle {
	t.Helper()
	meta := "name: " + name + "\nversion: 1.0.0\nkind: controller\n"
	if requires != "" {
		meta += "requires:\n  kubernetes: \"" + requires + "\"\n"
	}
	b, err := capabilities.FromFiles(ctx, []capabilities.File{
		{Name: capabilities.MetadataFile, Data: []byte(meta)},
		{Name: "manifests/objects.yaml", Data: []byte(manifests)},
	}, capabilities.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const settingsManifest = `apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: fast
`

func TestDriftRepair(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	e := newEnv(ctx, t, "drift")
	plan := []install.Item{item(bundle(ctx, t, "acme/settings", "", settingsManifest))}
	if _, err := e.in.Install(ctx, plan, install.Options{}); err != nil {
		t.Fatal(err)
	}
	cms := e.kube.CoreV1().ConfigMaps(e.ns) // the namespace given to objects without one
	drift := func() {
		t.Helper()
		cm, err := cms.Get(ctx, "settings", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if cm.Labels[install.LabelCapability] != "acme.settings" {
			t.Errorf("capability label %q, want acme.settings", cm.Labels[install.LabelCapability])
		}
		cm.Data["mode"] = "slow"
		if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
			t.Fatal(err)
		}
	}
	mode := func() string {
		t.Helper()
		cm, err := cms.Get(ctx, "settings", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return cm.Data["mode"]
	}

	drift()
	if _, err := e.in.Install(ctx, plan, install.Options{}); err != nil {
		t.Fatal(err)
	}
	if got := mode(); got != "slow" {
		t.Errorf("an installed record was applied again: mode %q", got)
	}
	if _, err := e.in.Install(ctx, plan, install.Options{Repair: true}); err != nil {
		t.Fatal(err)
	}
	if got := mode(); got != "fast" {
		t.Errorf("Repair: mode %q, want fast", got)
	}

	// A record left failed is resumed by a plain Install.
	drift()
	markFailed(ctx, t, e, "acme/settings")
	e.rec.Reset()
	if _, err := e.in.Install(ctx, plan, install.Options{}); err != nil {
		t.Fatal(err)
	}
	if got := mode(); got != "fast" {
		t.Errorf("resume: mode %q, want fast (applies %v)", got, e.rec.Calls())
	}
	recs, err := e.in.List(ctx)
	if err != nil || len(recs) != 1 || !recs[0].Installed() {
		t.Errorf("records after resume: %+v, %v", recs, err)
	}
}

// markFailed rewrites name's record as failed, as an interrupted install
// leaves it.
func markFailed(ctx context.Context, t *testing.T, e *env, name string) {
	t.Helper()
	cms := e.kube.CoreV1().ConfigMaps(e.ns + "-records")
	cm, err := cms.Get(ctx, install.RecordName(name), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var r install.Record
	if err := json.Unmarshal([]byte(cm.Data["record.json"]), &r); err != nil {
		t.Fatal(err)
	}
	r.State = install.StateFailedPrefix + "ConfigMap " + e.ns + "/settings"
	data, _ := json.Marshal(r)
	cm.Data["record.json"] = string(data)
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestKubernetesMismatch(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	e := newEnv(ctx, t, "mismatch")
	plan := []install.Item{
		item(bundle(ctx, t, "fits", ">=1.25.0", settingsManifest)),
		item(bundle(ctx, t, "too-new", ">=2.0.0", settingsManifest)),
	}
	_, err := e.in.Install(ctx, plan, install.Options{})
	if !errors.Is(err, install.ErrIncompatible) {
		t.Fatalf("got %v, want ErrIncompatible", err)
	}
	for _, want := range []string{"too-new", ">=2.0.0", kubeVersion} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "fits@") {
		t.Errorf("error %q names a capability that fits", err)
	}
	if calls := e.rec.Calls(); len(calls) != 0 {
		t.Errorf("applied %v before refusing", calls)
	}
	if _, err := e.kube.CoreV1().ConfigMaps(e.ns).Get(ctx, "settings", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("settings: got %v, want not found", err)
	}
}

func TestDryRun(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	e := newEnv(ctx, t, "dryrun")
	manifests := `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.dryrun.test.capcenter.dev
spec:
  group: dryrun.test.capcenter.dev
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
---
apiVersion: v1
kind: Namespace
metadata:
  name: dryrun-extra
---
apiVersion: dryrun.test.capcenter.dev/v1
kind: Widget
metadata:
  name: w
---
` + settingsManifest
	plan := []install.Item{item(bundle(ctx, t, "widgets", "", manifests))}
	res, err := e.in.Install(ctx, plan, install.Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	ir := res.Items[0]
	if len(ir.Applied) != 3 || len(ir.Deferred) != 1 || ir.Deferred[0].Kind != "Widget" {
		t.Errorf("applied %v, deferred %v; want CRD, Namespace and ConfigMap applied, the Widget deferred", ir.Applied, ir.Deferred)
	}
	for _, c := range e.rec.Calls() {
		if !strings.HasSuffix(c, " dryRun") {
			t.Errorf("%s: not a dry run", c)
		}
	}
	if _, err := e.dyn.Resource(gvr("apiextensions.k8s.io", "v1", "customresourcedefinitions")).Get(ctx, "widgets.dryrun.test.capcenter.dev", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("CRD: got %v, want not found", err)
	}
	for _, ns := range []string{"dryrun-extra", e.ns + "-records"} {
		if _, err := e.kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("namespace %s: got %v, want not found", ns, err)
		}
	}
	if _, err := e.kube.CoreV1().ConfigMaps(e.ns).Get(ctx, "settings", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("settings: got %v, want not found", err)
	}
	if recs, err := e.in.List(ctx); err != nil || len(recs) != 0 {
		t.Errorf("records: %v, %v; want none", recs, err)
	}
}

func TestLabelValue(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 63) + "/" + strings.Repeat("b", 63)
	for _, tc := range []struct{ in, want string }{
		{"rollout", "rollout"},
		{"acme/gateway", "acme.gateway"},
		{"1.0.0+build.5", "1.0.0_build.5"},
	} {
		if got := install.LabelValue(tc.in); got != tc.want {
			t.Errorf("LabelValue(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := install.LabelValue(long); len(got) != 63 || got == install.LabelValue(long+"c") {
		t.Errorf("LabelValue(long) = %q", got)
	}
	if got := install.DecodeName(install.EncodeName("acme/gateway")); got != "acme/gateway" {
		t.Errorf("round trip: %q", got)
	}
}

func TestForbidden(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	e := newEnv(ctx, t, "forbidden")
	// A user who may read records but apply nothing.
	user, err := testEnv.AddUser(envtest.User{Name: "forbidden-user"}, restConfig)
	if err != nil {
		t.Fatal(err)
	}
	records := e.ns + "-records"
	if _, err := e.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: records}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "read-records"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list"}}}}
	if _, err := e.kube.RbacV1().Roles(records).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "read-records"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "read-records"},
		Subjects: []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: "forbidden-user"}}}
	if _, err := e.kube.RbacV1().RoleBindings(records).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg, rec := recording(user.Config())
	in, err := install.New(install.Config{REST: cfg, Namespace: e.ns, RecordNamespace: records})
	if err != nil {
		t.Fatal(err)
	}
	plan := []install.Item{item(bundle(ctx, t, "acme/settings", "", settingsManifest))}
	_, err = in.Install(ctx, plan, install.Options{})
	if !errors.Is(err, install.ErrForbidden) {
		t.Fatalf("got %v, want ErrForbidden", err)
	}
	for _, want := range []string{"ConfigMap forbidden/settings (create, patch)", "ConfigMap forbidden-records/capcenter.acme.settings"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not list %q", err, want)
		}
	}
	if calls := rec.Calls(); len(calls) != 0 {
		t.Errorf("applied %v before refusing", calls)
	}
}
