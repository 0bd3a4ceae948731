package install

import (
	"context"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// refKey identifies an object by group, kind, namespace and name: the
// version does not matter, so an object a new version applies at another
// apiVersion is the same object.
type refKey struct{ group, kind, namespace, name string }

func keyOf(r ObjectRef) refKey {
	gv, _ := schema.ParseGroupVersion(r.APIVersion)
	return refKey{gv.Group, r.Kind, r.Namespace, r.Name}
}

// without returns the refs of old (in order, once each) that keep does not
// hold.
func without(old, keep []ObjectRef) []ObjectRef {
	drop := map[refKey]bool{}
	for _, r := range keep {
		drop[keyOf(r)] = true
	}
	var out []ObjectRef
	for _, r := range old {
		if k := keyOf(r); !drop[k] {
			drop[k] = true
			out = append(out, r)
		}
	}
	return out
}

// reverseTiers returns refs in the order to delete them: the reverse of the
// apply order, so the definition object goes first and CRDs last.
func reverseTiers(refs []ObjectRef) []ObjectRef {
	out := slices.Clone(refs)
	slices.Reverse(out)
	slices.SortStableFunc(out, func(a, b ObjectRef) int { return tierOfRef(b) - tierOfRef(a) })
	return out
}

func tierOfRef(r ObjectRef) int {
	return tierOf(schema.FromAPIVersionAndKind(r.APIVersion, r.Kind))
}

// resourceOf returns the client for ref's resource, or nil when the server
// no longer serves its kind (e.g. its CRD is gone, and the object with it).
func (in *Installer) resourceOf(ref ObjectRef) (dynamic.ResourceInterface, error) {
	gvk := schema.FromAPIVersionAndKind(ref.APIVersion, ref.Kind)
	m, err := in.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		in.mapper.Reset()
		m, err = in.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	switch {
	case meta.IsNoMatchError(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return in.dyn.Resource(m.Resource).Namespace(ref.Namespace), nil
	}
	return in.dyn.Resource(m.Resource), nil
}

// owned returns the live object ref names when it still carries capability
// name's label; nil when it is gone or belongs to someone else now.
func (in *Installer) owned(ctx context.Context, ref ObjectRef, name string) (*unstructured.Unstructured, dynamic.ResourceInterface, error) {
	ri, err := in.resourceOf(ref)
	if err != nil || ri == nil {
		return nil, nil, err
	}
	u, err := ri.Get(ctx, ref.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil, nil
	case err != nil:
		return nil, nil, fmt.Errorf("get %s: %w", ref, err)
	case u.GetLabels()[LabelCapability] != LabelValue(name):
		return nil, nil, nil
	}
	return u, ri, nil
}

// deleteOwned deletes ref if it still carries capability name's label,
// reporting whether it did (or, for a dry run, would). The delete is
// conditional on the object's UID, so an object re-created meanwhile is
// left alone. Objects with finalizers (namespaces, CRDs) go away once
// those run; deleteOwned does not wait for them.
func (in *Installer) deleteOwned(ctx context.Context, ref ObjectRef, name string, dryRun bool) (bool, error) {
	u, ri, err := in.owned(ctx, ref, name)
	if err != nil || u == nil {
		return false, err
	}
	uid := u.GetUID()
	opts := metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	err = ri.Delete(ctx, ref.Name, opts)
	switch {
	case apierrors.IsNotFound(err), apierrors.IsConflict(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("delete %s: %w", ref, err)
	}
	return true, nil
}
