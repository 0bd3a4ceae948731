package install_test

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/capcenter/capcenter/client/install"
)

func TestDiff(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	e := newEnv(ctx, t, "diff")
	plan := []install.Item{item(controllerCopy(t, "rollout-controller", "diff", "1.0.0", nil))}
	diffs, err := e.in.Diff(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		if d.Action != install.DiffCreate {
			t.Errorf("before install: %s %s, want create", d.Object, d.Action)
		}
	}
	if _, err := e.in.Install(ctx, plan, install.Options{}); err != nil {
		t.Fatal(err)
	}
	// Someone scales the controller by hand.
	patch := []byte(`{"spec":{"replicas":5}}`)
	if _, err := e.kube.AppsV1().Deployments("diff-rollout").Patch(ctx, "rollout-controller", types.MergePatchType, patch,
		metav1.PatchOptions{FieldManager: "kubectl-scale"}); err != nil {
		t.Fatal(err)
	}
	diffs, err = e.in.Diff(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) != 8 {
		t.Errorf("got %d diffs, want one per object (8): %+v", len(diffs), diffs)
	}
	for _, d := range diffs {
		want, fields := install.DiffUnchanged, 0
		if d.Object.Kind == "Deployment" {
			want, fields = install.DiffUpdate, 1
		}
		if d.Action != want || len(d.Fields) != fields || (fields == 1 && d.Fields[0] != "~ spec.replicas") {
			t.Errorf("%s: %s %v, want %s", d.Object, d.Action, d.Fields, want)
		}
	}
}
