package install

import (
	"context"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Diff actions.
const (
	DiffCreate    = "create"
	DiffUpdate    = "update"
	DiffUnchanged = "unchanged"
	DiffDelete    = "delete"
)

// An ObjectDiff says what installing a plan would do to one object.
type ObjectDiff struct {
	// Capability is the name of the item the object belongs to.
	Capability string
	Object     ObjectRef
	// Action is DiffCreate, DiffUpdate, DiffUnchanged or DiffDelete.
	Action string
	// Fields lists, for an update, the changed field paths, each marked
	// "+ " (added), "- " (removed) or "~ " (changed), e.g.
	// "~ spec.replicas" or `+ metadata.labels["app.kubernetes.io/name"]`.
	// Values are left out: they may be secret.
	Fields []string
}

// ignored are the fields Diff does not compare: the server sets them.
var ignored = [][]string{
	{"metadata", "managedFields"}, {"metadata", "resourceVersion"}, {"metadata", "generation"},
	{"metadata", "creationTimestamp"}, {"metadata", "uid"}, {"status"},
}

// Diff reports what Install would do with items, object by object, in plan
// order: each object the items apply is applied with server-side dry run
// (forced, by Config.FieldManager, as Install applies) and the result
// compared with the live object, ignoring metadata.managedFields,
// resourceVersion, generation, creationTimestamp, uid and status. It then
// adds, as DiffDelete, the objects an item's record lists that the item no
// longer has and that still carry the capability's label: those an
// upgrade would prune. Unlike Install, Diff looks at every item, installed
// digests included. It changes nothing.
//
// Objects whose kind or namespace the plan itself creates cannot be dry
// run; when they are absent they are reported as DiffCreate unchecked.
//
// Diff fails wrapping ErrInvalid, ErrUnknownKind or the discovery error as
// Install does before applying, and otherwise with the first read or
// dry-run apply the API server refuses, naming the capability and object.
func (in *Installer) Diff(ctx context.Context, items []Item) ([]ObjectDiff, error) {
	records, err := in.records(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkItems(items, records); err != nil {
		return nil, err
	}
	all := make([]*Item, len(items))
	for i := range items {
		all[i] = &items[i]
	}
	plans, planned, err := in.plan(items, all)
	if err != nil {
		return nil, err
	}
	var out []ObjectDiff
	for _, p := range plans {
		diffs, err := in.diffItem(ctx, p, planned, records)
		if err != nil {
			return nil, err
		}
		out = append(out, diffs...)
	}
	return out, nil
}

// diffItem diffs the objects of one item, then those it would prune.
func (in *Installer) diffItem(ctx context.Context, p *itemPlan, planned map[string]bool, records map[string]Record) ([]ObjectDiff, error) {
	name := p.item.Name
	var out, refs = []ObjectDiff(nil), []ObjectRef(nil)
	for _, t := range p.targets {
		d, err := in.diffTarget(ctx, t, planned)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		d.Capability = name
		out = append(out, d)
		refs = append(refs, t.ref())
	}
	old, ok := records[name]
	if !ok {
		return out, nil
	}
	for _, ref := range reverseTiers(without(append(slices.Clone(old.Objects), old.Prune...), refs)) {
		u, _, err := in.owned(ctx, ref, name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if u != nil {
			out = append(out, ObjectDiff{Capability: name, Object: ref, Action: DiffDelete})
		}
	}
	return out, nil
}

// diffTarget compares t's dry-run apply with its live object.
func (in *Installer) diffTarget(ctx context.Context, t *target, planned map[string]bool) (ObjectDiff, error) {
	d := ObjectDiff{Object: t.ref()}
	ns := ""
	if t.namespaced {
		ns = t.obj.GetNamespace()
	}
	ri := in.dyn.Resource(t.gvr).Namespace(ns)
	live, err := ri.Get(ctx, t.obj.GetName(), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		live = nil
	case err != nil:
		return d, fmt.Errorf("get %s: %w", t.ref(), err)
	}
	want, err := ri.Apply(ctx, t.obj.GetName(), t.obj, in.applyOptions(true))
	switch {
	case err != nil && live == nil && apierrors.IsNotFound(err) && (t.crd != "" || planned[t.obj.GetNamespace()]):
		d.Action = DiffCreate
		return d, nil
	case err != nil:
		return d, fmt.Errorf("dry-run apply %s: %w", t.ref(), err)
	case live == nil:
		d.Action = DiffCreate
		return d, nil
	}
	d.Fields = changedFields(stripped(live), stripped(want), "", nil)
	d.Action = DiffUnchanged
	if len(d.Fields) > 0 {
		d.Action = DiffUpdate
	}
	return d, nil
}

// stripped returns u's content without the ignored fields.
func stripped(u *unstructured.Unstructured) map[string]any {
	c := u.DeepCopy().Object
	for _, f := range ignored {
		unstructured.RemoveNestedField(c, f...)
	}
	return c
}

// changedFields appends to out the paths below path where a and b differ.
// Maps are compared key by key and lists item by item.
func changedFields(a, b any, path string, out []string) []string {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			break
		}
		for _, k := range slices.Sorted(mapKeys(av, bv)) {
			x, inA := av[k]
			y, inB := bv[k]
			p := fieldPath(path, k)
			switch {
			case !inA:
				out = append(out, "+ "+p)
			case !inB:
				out = append(out, "- "+p)
			default:
				out = changedFields(x, y, p, out)
			}
		}
		return out
	case []any:
		bv, ok := b.([]any)
		if !ok {
			break
		}
		for i := range max(len(av), len(bv)) {
			p := path + "[" + strconv.Itoa(i) + "]"
			switch {
			case i >= len(av):
				out = append(out, "+ "+p)
			case i >= len(bv):
				out = append(out, "- "+p)
			default:
				out = changedFields(av[i], bv[i], p, out)
			}
		}
		return out
	}
	if !reflect.DeepEqual(a, b) {
		out = append(out, "~ "+path)
	}
	return out
}

// mapKeys yields the keys of a and b, once each.
func mapKeys(a, b map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range a {
			if !yield(k) {
				return
			}
		}
		for k := range b {
			if _, dup := a[k]; !dup && !yield(k) {
				return
			}
		}
	}
}

// plainKey matches the keys a path can show after a dot.
var plainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// fieldPath appends key to path: ".key", or `["key"]` when key holds dots,
// slashes or the like (label and annotation keys).
func fieldPath(path, key string) string {
	if !plainKey.MatchString(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}
