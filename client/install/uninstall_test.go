package install_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/capcenter/capcenter/client/install"
)

// uninstallPlan is the rollout plan with its controller renamed for this
// test (see controllerCopy), so that deleting it leaves other tests alone.
func uninstallPlan(t *testing.T, prefix string) []install.Item {
	t.Helper()
	plan := rolloutPlan(t)
	plan[1] = item(controllerCopy(t, "rollout-controller", prefix, "1.0.0", nil))
	return plan
}

func TestUninstall(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	e := newEnv(ctx, t, "uninstall")
	plan := uninstallPlan(t, "uninstall")
	if _, err := e.in.Install(ctx, plan, install.Options{}); err != nil {
		t.Fatal(err)
	}
	deployment := func() error {
		_, err := e.kube.AppsV1().Deployments("uninstall-rollout").Get(ctx, "rollout-controller", metav1.GetOptions{})
		return err
	}

	_, err := e.in.Uninstall(ctx, []string{"rollout-controller"}, install.UninstallOptions{})
	if !errors.Is(err, install.ErrHasDependents) || !strings.Contains(err.Error(), "rollout-controller is needed by rollout") {
		t.Errorf("uninstall with a dependent: got %v, want ErrHasDependents naming rollout", err)
	}
	_, err = e.in.Uninstall(ctx, []string{"rollout-controller", "nope"}, install.UninstallOptions{Cascade: true})
	if !errors.Is(err, install.ErrNotInstalled) || !strings.Contains(err.Error(), "nope") {
		t.Errorf("uninstall of an unknown name: got %v, want ErrNotInstalled naming it", err)
	}
	res, err := e.in.Uninstall(ctx, []string{"rollout-controller"}, install.UninstallOptions{Cascade: true, DryRun: true})
	if err != nil || len(res.Items) != 2 || len(res.Items[1].Deleted) != 8 || res.Items[1].Duration == 0 {
		t.Errorf("dry run: %+v, %v", res, err)
	}
	if err := deployment(); err != nil {
		t.Fatalf("after refusals and a dry run: %v", err)
	}

	res, err = e.in.Uninstall(ctx, []string{"rollout-controller"}, install.UninstallOptions{Cascade: true})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ui := range res.Items {
		names = append(names, ui.Name)
		if len(ui.Kept) != 0 {
			t.Errorf("%s: kept %v", ui.Name, ui.Kept)
		}
		for _, ref := range ui.Deleted {
			checkGone(ctx, t, e, ref)
		}
	}
	if !slices.Equal(names, []string{"rollout", "rollout-controller"}) {
		t.Fatalf("uninstalled %v, want rollout then rollout-controller", names)
	}
	checkDeleteOrder(t, res.Items[1].Deleted)
	recs, err := e.in.List(ctx)
	if err != nil || len(recs) != 1 || recs[0].Name != "oam-definitions" {
		t.Errorf("records left: %+v, %v; want oam-definitions only", recs, err)
	}
}

// checkDeleteOrder checks the controller's objects were deleted in reverse
// tier order: the Deployment first, the CRD last.
func checkDeleteOrder(t *testing.T, deleted []install.ObjectRef) {
	t.Helper()
	var kinds []string
	for _, ref := range deleted {
		kinds = append(kinds, ref.Kind)
	}
	want := []string{"Deployment", "RoleBinding", "Role", "ClusterRoleBinding", "ClusterRole", "ServiceAccount", "Namespace", "CustomResourceDefinition"}
	if !slices.Equal(kinds, want) {
		t.Errorf("deleted %v, want %v", kinds, want)
	}
}

// checkGone checks ref is deleted, or being deleted: envtest runs no
// namespace controller, so namespaces stay terminating.
func checkGone(ctx context.Context, t *testing.T, e *env, ref install.ObjectRef) {
	t.Helper()
	u, err := getRefErr(ctx, t, e, ref)
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		t.Errorf("%s: %v", ref, err)
	case u.GetDeletionTimestamp() == nil:
		t.Errorf("%s: still there", ref)
	}
}
