package install

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
)

// configMapGVR is the resource of install records.
var configMapGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

// pollInterval is how often a CRD's conditions are read while waiting.
const pollInterval = 200 * time.Millisecond

// apply server-side applies t.
func (in *Installer) apply(ctx context.Context, t *target, dryRun bool) error {
	ns := ""
	if t.namespaced {
		ns = t.obj.GetNamespace()
	}
	_, err := in.dyn.Resource(t.gvr).Namespace(ns).Apply(ctx, t.obj.GetName(), t.obj, in.applyOptions(dryRun))
	return err
}

// waitCRDs waits until every CustomResourceDefinition among ts is
// Established, each within Config.EstablishTimeout.
func (in *Installer) waitCRDs(ctx context.Context, ts []*target) error {
	for _, t := range ts {
		if t.tier == tierCRD {
			if err := in.waitEstablished(ctx, t.obj.GetName()); err != nil {
				return err
			}
		}
	}
	return nil
}

// waitEstablished polls CRD name until its Established condition is True.
// It fails wrapping ErrNotEstablished when the names are refused or the
// timeout passes, or with ctx's error when ctx ends first.
func (in *Installer) waitEstablished(ctx context.Context, name string) error {
	wctx, cancel := context.WithTimeout(ctx, in.cfg.EstablishTimeout)
	defer cancel()
	var refused string
	err := wait.PollUntilContextCancel(wctx, pollInterval, true, func(ctx context.Context) (bool, error) {
		u, err := in.dyn.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		established, msg := crdConditions(u)
		refused = msg
		return established || refused != "", nil
	})
	switch {
	case refused != "":
		return fmt.Errorf("CustomResourceDefinition %s: %s: %w", name, refused, ErrNotEstablished)
	case err != nil && ctx.Err() != nil:
		return fmt.Errorf("CustomResourceDefinition %s: waiting to be established: %w", name, ctx.Err())
	case err != nil && wctx.Err() != nil:
		return fmt.Errorf("CustomResourceDefinition %s: not established after %s: %w", name, in.cfg.EstablishTimeout, ErrNotEstablished)
	case err != nil:
		return fmt.Errorf("CustomResourceDefinition %s: %w", name, err)
	}
	return nil
}

// crdConditions reports whether u is Established, and why its names were
// refused, if they were.
func crdConditions(u *unstructured.Unstructured) (bool, string) {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	established := false
	for _, c := range conds {
		m, _ := c.(map[string]any)
		switch {
		case m["type"] == "Established" && m["status"] == "True":
			established = true
		case m["type"] == "NamesAccepted" && m["status"] == "False":
			return false, fmt.Sprintf("names not accepted: %v", m["message"])
		}
	}
	return established, ""
}

// ensureNamespace creates namespace name unless it exists. It is created
// plainly rather than applied, and belongs to no capability: uninstalling
// one must never delete it.
func (in *Installer) ensureNamespace(ctx context.Context, name string) error {
	_, err := in.kube.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if err == nil {
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("namespace %s: %w", name, err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name,
		Labels: map[string]string{"app.kubernetes.io/managed-by": in.cfg.FieldManager}}}
	_, err = in.kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{FieldManager: in.cfg.FieldManager})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	return nil
}
