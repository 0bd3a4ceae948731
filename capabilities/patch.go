package capabilities

import (
	"fmt"
	"reflect"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
)

// strategy is how one field of a trait's patch merges into the workload,
// set by KubeVela's comment annotations on the line above the field:
//
//	// +patchKey=name           a list merges element by element, matched by name
//	// +patchStrategy=retainKeys  the patch's value replaces the workload's
//	                             (a struct keeps only the patch's keys)
//	// +patchStrategy=replace     the patch's value replaces the workload's
//
// Without one, structs merge field by field, lists must have the same length
// and merge element by element, and scalars must be equal, as CUE unification
// would demand.
type strategy struct {
	patchKey   string
	retainKeys bool
	replace    bool
}

func strategyOf(doc []*ast.CommentGroup) (strategy, error) {
	var s strategy
	for _, cg := range doc {
		for _, c := range cg.List {
			text := strings.TrimSpace(strings.TrimPrefix(c.Text, "//"))
			if v, ok := strings.CutPrefix(text, "+patchKey="); ok {
				s.patchKey = strings.TrimSpace(v)
			}
			if v, ok := strings.CutPrefix(text, "+patchStrategy="); ok {
				switch v = strings.TrimSpace(v); v {
				case "retainKeys":
					s.retainKeys = true
				case "replace":
					s.replace = true
				default:
					return s, fmt.Errorf("+patchStrategy=%s is not supported: want retainKeys or replace", v)
				}
			}
		}
	}
	return s, nil
}

// applyPatch merges a trait's concrete patch into a copy of workload. It
// fails naming the path where the patch conflicts with the workload.
func applyPatch(workload Object, patch cue.Value) (Object, error) {
	out, err := mergeValue("patch", workload, patch, strategy{})
	if err != nil {
		return nil, err
	}
	obj, ok := out.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("patch: want a struct, got %s", jsonKind(out))
	}
	return obj, nil
}

func mergeValue(path string, base any, p cue.Value, s strategy) (any, error) {
	if s.replace || s.retainKeys && p.Kind() != cue.StructKind {
		return jsonValue(p)
	}
	switch p.Kind() {
	case cue.StructKind:
		return mergeStruct(path, base, p, s.retainKeys)
	case cue.ListKind:
		if s.patchKey != "" {
			return mergeByKey(path, base, p, s.patchKey)
		}
		return mergeList(path, base, p)
	}
	pv, err := jsonValue(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if base != nil && !reflect.DeepEqual(base, pv) {
		return nil, fmt.Errorf("%s: the workload has %s, the patch sets %s (mark the field // +patchStrategy=retainKeys to replace it)",
			path, numberString(base), numberString(pv))
	}
	return pv, nil
}

func mergeStruct(path string, base any, p cue.Value, retain bool) (any, error) {
	bm, ok := base.(map[string]any)
	if base != nil && !ok {
		return nil, fmt.Errorf("%s: the workload has %s, the patch a struct", path, jsonKind(base))
	}
	out := make(map[string]any, len(bm))
	if !retain {
		for k, v := range bm {
			out[k] = v
		}
	}
	it, err := p.Fields()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for it.Next() {
		k := it.Selector().Unquoted()
		s, err := strategyOf(it.Value().Doc())
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", path, k, err)
		}
		old := bm[k]
		if retain {
			old = nil // the patch's value replaces the workload's, all the way down
		}
		if out[k], err = mergeValue(path+"."+k, old, it.Value(), s); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func listElems(path string, p cue.Value) ([]cue.Value, error) {
	it, err := p.List()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var elems []cue.Value
	for it.Next() {
		elems = append(elems, it.Value())
	}
	return elems, nil
}

func mergeList(path string, base any, p cue.Value) (any, error) {
	if base == nil {
		return jsonValue(p)
	}
	bl, ok := base.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: the workload has %s, the patch a list", path, jsonKind(base))
	}
	elems, err := listElems(path, p)
	if err != nil {
		return nil, err
	}
	if len(elems) != len(bl) {
		return nil, fmt.Errorf("%s: the workload's list has %d elements, the patch's %d (mark the field // +patchKey=<key> to merge by key)",
			path, len(bl), len(elems))
	}
	out := make([]any, len(bl))
	for i, e := range elems {
		if out[i], err = mergeValue(fmt.Sprintf("%s[%d]", path, i), bl[i], e, strategy{}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// mergeByKey merges each patch element into the workload element with the
// same key, appending those with a new key.
func mergeByKey(path string, base any, p cue.Value, key string) (any, error) {
	bl, ok := base.([]any)
	if base != nil && !ok {
		return nil, fmt.Errorf("%s: the workload has %s, the patch a list", path, jsonKind(base))
	}
	elems, err := listElems(path, p)
	if err != nil {
		return nil, err
	}
	out := append([]any(nil), bl...)
	for i, e := range elems {
		kv := e.LookupPath(cue.MakePath(cue.Str(key)))
		if !kv.Exists() {
			return nil, fmt.Errorf("%s[%d]: no %q to merge by (+patchKey=%s)", path, i, key, key)
		}
		want, err := jsonValue(kv)
		if err != nil {
			return nil, fmt.Errorf("%s[%d].%s: %w", path, i, key, err)
		}
		at := -1
		for j, b := range out {
			if m, ok := b.(map[string]any); ok && reflect.DeepEqual(m[key], want) {
				at = j
				break
			}
		}
		elemPath := fmt.Sprintf("%s[%s=%s]", path, key, numberString(want))
		if at < 0 {
			v, err := mergeValue(elemPath, nil, e, strategy{})
			if err != nil {
				return nil, err
			}
			out = append(out, v)
			continue
		}
		if out[at], err = mergeValue(elemPath, out[at], e, strategy{}); err != nil {
			return nil, err
		}
	}
	return out, nil
}
