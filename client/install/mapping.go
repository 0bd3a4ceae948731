package install

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// crdGVR is the resource of CustomResourceDefinitions.
var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// A resourceInfo is where objects of one kind live.
type resourceInfo struct {
	gvr        schema.GroupVersionResource
	namespaced bool
	crd        string // name of the plan's CRD that defines it, if any
}

// A kindMapper maps kinds to resources: first those the plan's own
// CustomResourceDefinitions define (which the server may not serve yet),
// then those the server serves.
type kindMapper struct {
	planned map[schema.GroupVersionKind]resourceInfo
	server  meta.RESTMapper
}

// addCRD records the kinds a CustomResourceDefinition manifest defines; it
// ignores anything else and malformed definitions, which the server
// refuses when they are applied.
func (m *kindMapper) addCRD(u *unstructured.Unstructured) {
	if tierOf(u.GroupVersionKind()) != tierCRD {
		return
	}
	group, _, _ := unstructured.NestedString(u.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(u.Object, "spec", "names", "kind")
	plural, _, _ := unstructured.NestedString(u.Object, "spec", "names", "plural")
	scope, _, _ := unstructured.NestedString(u.Object, "spec", "scope")
	versions, _, _ := unstructured.NestedSlice(u.Object, "spec", "versions")
	for _, v := range versions {
		name, _, _ := unstructured.NestedString(v.(map[string]any), "name")
		gvk := schema.GroupVersionKind{Group: group, Version: name, Kind: kind}
		m.planned[gvk] = resourceInfo{
			gvr:        schema.GroupVersionResource{Group: group, Version: name, Resource: plural},
			namespaced: scope != "Cluster",
			crd:        u.GetName(),
		}
	}
}

// resource maps gvk, failing with ErrUnknownKind when neither the plan nor
// the server defines it, or with the discovery error.
func (m *kindMapper) resource(gvk schema.GroupVersionKind) (resourceInfo, error) {
	if ri, ok := m.planned[gvk]; ok {
		return ri, nil
	}
	rm, err := m.server.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		return resourceInfo{}, fmt.Errorf("%s: %w", gvk, ErrUnknownKind)
	}
	if err != nil {
		return resourceInfo{}, fmt.Errorf("%s: %w", gvk, err)
	}
	return resourceInfo{gvr: rm.Resource, namespaced: rm.Scope.Name() == meta.RESTScopeNameNamespace}, nil
}
