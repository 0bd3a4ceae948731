package install

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/capcenter/capcenter/capabilities"
)

// OAMGroupVersion is the API of the definition objects Install applies.
const OAMGroupVersion = "core.oam.dev/v1beta1"

// An ObjectRef names one Kubernetes object; Namespace is empty for
// cluster-scoped objects.
type ObjectRef struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

// String returns "Kind namespace/name", or "Kind name" when cluster-scoped.
func (r ObjectRef) String() string {
	if r.Namespace == "" {
		return r.Kind + " " + r.Name
	}
	return r.Kind + " " + r.Namespace + "/" + r.Name
}

// Apply tiers: the order in which an item's objects are applied.
const (
	tierCRD = iota
	tierNamespace
	tierRBAC
	tierOther
	tierDefinition
)

// A target is one object to apply, mapped to its resource.
type target struct {
	obj        *unstructured.Unstructured
	gvr        schema.GroupVersionResource
	namespaced bool
	tier       int
	crd        string // the plan's CRD defining its kind, if any
}

func (t *target) ref() ObjectRef {
	return ObjectRef{t.obj.GetAPIVersion(), t.obj.GetKind(), t.obj.GetNamespace(), t.obj.GetName()}
}

// tierOf says when an object of gvk is applied.
func tierOf(gvk schema.GroupVersionKind) int {
	switch {
	case gvk.Group == "apiextensions.k8s.io" && gvk.Kind == "CustomResourceDefinition":
		return tierCRD
	case gvk.Group == "" && gvk.Kind == "Namespace":
		return tierNamespace
	case gvk.GroupVersion().String() == OAMGroupVersion && slices.Contains(slices.Collect(maps.Values(definitionKinds)), gvk.Kind):
		return tierDefinition
	case gvk.Group == "" && gvk.Kind == "ServiceAccount",
		gvk.Group == "rbac.authorization.k8s.io":
		return tierRBAC
	}
	return tierOther
}

// Objects returns the objects Install would apply for it, before labels
// and annotations: its manifests in file order, then its OAM definition
// object in definitionNamespace (none for a controller bundle). It fails
// when a manifest cannot be converted, naming it. Benchmarks use it to
// hand the same objects to another tool.
func Objects(it Item, definitionNamespace string) ([]*unstructured.Unstructured, error) {
	return objects(&it, definitionNamespace)
}

// objects is Objects for an item already in hand.
func objects(it *Item, defNamespace string) ([]*unstructured.Unstructured, error) {
	objs, err := it.Bundle.Objects()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", it.Name, err)
	}
	var out []*unstructured.Unstructured
	for _, o := range objs {
		u, err := toUnstructured(o)
		if err != nil {
			return nil, fmt.Errorf("%s: manifest %s/%s: %w", it.Name, o["kind"], name(o), err)
		}
		out = append(out, u)
	}
	if def := definitionObject(it.Bundle, defNamespace); def != nil {
		out = append(out, def)
	}
	return out, nil
}

func name(o capabilities.Object) any {
	meta, _ := o["metadata"].(map[string]any)
	return meta["name"]
}

// toUnstructured converts JSON-shaped data (with json.Number leaves) into
// the int64/float64 form apimachinery expects.
func toUnstructured(o capabilities.Object) (*unstructured.Unstructured, error) {
	data, err := json.Marshal(o)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(data); err != nil {
		return nil, err
	}
	return u, nil
}

// definitionKinds maps a capability kind to its OAM definition kind.
var definitionKinds = map[capabilities.Kind]string{
	capabilities.KindComponent: "ComponentDefinition",
	capabilities.KindTrait:     "TraitDefinition",
	capabilities.KindPolicy:    "PolicyDefinition",
}

// definitionObject returns the OAM X-Definition object of b, as `vela def
// apply` would write it: the header's attributes become spec fields beside
// spec.schematic.cue.template. It is nil for controller bundles.
func definitionObject(b *capabilities.Bundle, namespace string) *unstructured.Unstructured {
	kind, ok := definitionKinds[b.Metadata.Kind]
	if !ok || b.Definition == nil {
		return nil
	}
	d := b.Definition
	spec := map[string]any{}
	maps.Copy(spec, d.Attributes)
	if b.Metadata.Kind == capabilities.KindTrait {
		if _, ok := spec["appliesToWorkloads"]; !ok {
			spec["appliesToWorkloads"] = toAny(b.Metadata.AppliesTo)
		}
	}
	spec["schematic"] = map[string]any{"cue": map[string]any{"template": d.Template}}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": OAMGroupVersion,
		"kind":       kind,
		"metadata":   map[string]any{"name": capabilities.ShortName(b.Metadata.Name), "namespace": namespace},
		"spec":       spec,
	}}
	// Attributes decoded from CUE hold json.Number; normalize them.
	if n, err := toUnstructured(u.Object); err == nil {
		u = n
	}
	desc := d.Description
	if desc == "" {
		desc = b.Metadata.Description
	}
	annotations := maps.Clone(d.Annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[AnnotationDescription] = desc
	u.SetAnnotations(annotations)
	if len(d.Labels) > 0 {
		u.SetLabels(maps.Clone(d.Labels))
	}
	return u
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// stamp sets the capcenter labels and digest annotation on u, over any the
// manifest has.
func stamp(u *unstructured.Unstructured, it *Item) {
	labels := u.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelCapability] = LabelValue(it.Name)
	labels[LabelVersion] = LabelValue(it.Version)
	u.SetLabels(labels)
	annotations := u.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[AnnotationDigest] = it.Digest
	u.SetAnnotations(annotations)
}

// sortTargets orders targets by tier, keeping manifest order within one.
func sortTargets(ts []*target) {
	slices.SortStableFunc(ts, func(a, b *target) int { return a.tier - b.tier })
}
