package capabilities

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"
)

// Context is what a template sees as `context` when it renders, as a
// KubeVela application controller would provide it.
type Context struct {
	// Name is the component's name; it names the rendered objects.
	Name           string
	Namespace      string
	AppName        string
	AppRevision    string
	AppRevisionNum int
	ClusterVersion ClusterVersion
}

// ClusterVersion is the Kubernetes version a template renders for.
type ClusterVersion struct {
	Major, Minor int
	GitVersion   string
}

// withDefaults fills what is unset: name from the capability, namespace
// "default", an application named after the component, Kubernetes 1.35.
func (c Context) withDefaults(name string) Context {
	if c.Name == "" {
		c.Name = ShortName(name)
	}
	if c.Namespace == "" {
		c.Namespace = "default"
	}
	if c.AppName == "" {
		c.AppName = c.Name
	}
	if c.AppRevisionNum == 0 {
		c.AppRevisionNum = 1
	}
	if c.AppRevision == "" {
		c.AppRevision = fmt.Sprintf("%s-v%d", c.AppName, c.AppRevisionNum)
	}
	if c.ClusterVersion.Major == 0 {
		c.ClusterVersion = ClusterVersion{Major: 1, Minor: 35, GitVersion: "v1.35.0"}
	}
	if c.ClusterVersion.GitVersion == "" {
		c.ClusterVersion.GitVersion = fmt.Sprintf("v%d.%d.0", c.ClusterVersion.Major, c.ClusterVersion.Minor)
	}
	return c
}

// RenderOptions are the inputs of a render.
type RenderOptions struct {
	// Parameters fill the template's parameter block.
	Parameters map[string]any
	// Context is the render context; unset fields take defaults.
	Context Context
	// Workload is, for traits, the object the patch applies to and what the
	// template sees as context.output; nil means SampleWorkload.
	Workload Object
	// WorkloadOutputs is, for traits, what the template sees as
	// context.outputs: the workload's auxiliary objects by name.
	WorkloadOutputs map[string]Object
	// Limits bounds the evaluation time.
	Limits Limits
}

// Rendered is the result of a render.
type Rendered struct {
	// Output is a component's or policy's output object, or for a trait the
	// workload with the patch applied; nil when the template has none.
	Output Object
	// Outputs are the template's auxiliary objects, sorted by name.
	Outputs []NamedObject
}

// A NamedObject is an entry of a template's outputs block.
type NamedObject struct {
	Name   string
	Object Object
}

// Objects returns Output, when there is one, then each of Outputs.
func (r *Rendered) Objects() []Object {
	var objs []Object
	if r.Output != nil {
		objs = append(objs, r.Output)
	}
	for _, o := range r.Outputs {
		objs = append(objs, o.Object)
	}
	return objs
}

// SampleWorkload is the Deployment a trait is rendered against when no
// workload is given: one container named after the component.
func SampleWorkload(name string) Object {
	labels := map[string]any{"app.oam.dev/component": name}
	return Object{
		"apiVersion": "apps/v1",
		"kind":       "Deployment",
		"metadata":   map[string]any{"name": name, "labels": labels},
		"spec": map[string]any{
			"selector": map[string]any{"matchLabels": labels},
			"template": map[string]any{
				"metadata": map[string]any{"labels": labels},
				"spec": map[string]any{"containers": []any{
					map[string]any{"name": name, "image": "nginx:1.27"},
				}},
			},
		},
	}
}

// Render evaluates the bundle's template with opts in a fresh CUE context,
// through opts.Limits.Evaluator (in this process when nil), bounded by
// opts.Limits.EvalTimeout. It fails with a *ValidationError whose
// problems name each parameter path that is unknown, missing or of the wrong
// type, or each output field that does not evaluate; with an error wrapping
// ErrTimeout when the bound passes (in process, the evaluation is
// abandoned, not stopped); with ctx's error when ctx ends first; with
// ErrInvalid for a bundle without a template; and as the Evaluator
// fails otherwise (package evalproc: ErrTooLarge for an evaluation that
// needs more memory than its worker may have).
func (b *Bundle) Render(ctx context.Context, opts RenderOptions) (*Rendered, error) {
	if b.Definition == nil {
		return nil, fmt.Errorf("%s: %w: a %s bundle has no template to render", b.Metadata.Name, ErrInvalid, b.Metadata.Kind)
	}
	opts.Context = opts.Context.withDefaults(b.Metadata.Name)
	lim := opts.Limits.withDefaults()
	return lim.evaluator().Render(ctx, b.Definition.renderRequest(opts, lim.EvalTimeout))
}

// bounded runs fn, returning early when ctx ends or timeout passes. CUE
// evaluation cannot be interrupted, so an abandoned fn runs on to its end.
// Without a timeout fn runs in the calling goroutine, to its end. A panic
// in fn is an error wrapping ErrInvalid.
func bounded[T any](ctx context.Context, timeout time.Duration, fn func() (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err // start no evaluation for a context already done
	}
	if timeout <= 0 {
		return recovered(fn)
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := recovered(fn)
		done <- result{v, err}
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case r := <-done:
		return r.v, r.err
	case <-timer.C:
		return zero, fmt.Errorf("template: %w after %v", ErrTimeout, timeout)
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// recovered runs fn, turning a panic into an error wrapping ErrInvalid.
func recovered[T any](fn func() (T, error)) (v T, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: evaluation failed: %v", ErrInvalid, p)
		}
	}()
	return fn()
}

func (d *Definition) render(opts RenderOptions) (*Rendered, error) {
	cctx := cuecontext.New()
	v, err := d.compile(cctx)
	if err != nil {
		var ps problems
		addCUEErrors(&ps, d.file, err)
		return nil, ps.err()
	}
	var ps problems
	params := opts.Parameters
	if params == nil {
		params = map[string]any{}
	}
	checkUnknown(v.LookupPath(cue.ParsePath("parameter")), params, "parameter", &ps)
	if err := ps.err(); err != nil {
		return nil, err
	}
	v, err = fillJSON(cctx, v, "parameter", params)
	if err != nil {
		return nil, err
	}
	if v, err = fillJSON(cctx, v, "context", contextData(opts, d.Type == KindTrait)); err != nil {
		return nil, err
	}
	if err := v.LookupPath(cue.ParsePath("parameter")).Validate(cue.Concrete(true)); err != nil {
		return nil, parameterProblems(err)
	}
	out := &Rendered{}
	if o := v.LookupPath(cue.ParsePath("output")); o.Exists() && d.Type != KindTrait {
		if out.Output, err = concreteObject(d.file, "output", o); err != nil {
			return nil, err
		}
		if v, err = fillJSON(cctx, v, "context.output", out.Output); err != nil {
			return nil, err
		}
	}
	if out.Outputs, err = d.renderOutputs(v); err != nil {
		return nil, err
	}
	if d.Type == KindTrait {
		if out.Output, err = d.renderPatch(v, contextWorkload(opts)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (d *Definition) renderOutputs(v cue.Value) ([]NamedObject, error) {
	outs := v.LookupPath(cue.ParsePath("outputs"))
	if !outs.Exists() {
		return nil, nil
	}
	it, err := outs.Fields()
	if err != nil {
		var ps problems
		addCUEErrors(&ps, d.file, err)
		return nil, ps.err()
	}
	var named []NamedObject
	for it.Next() {
		obj, err := concreteObject(d.file, "outputs."+it.Selector().String(), it.Value())
		if err != nil {
			return nil, err
		}
		named = append(named, NamedObject{Name: it.Selector().Unquoted(), Object: obj})
	}
	slices.SortFunc(named, func(a, b NamedObject) int { return strings.Compare(a.Name, b.Name) })
	return named, nil
}

func (d *Definition) renderPatch(v cue.Value, workload Object) (Object, error) {
	p := v.LookupPath(cue.ParsePath("patch"))
	if !p.Exists() {
		return workload, nil
	}
	if err := p.Validate(cue.Concrete(true)); err != nil {
		var ps problems
		addCUEErrors(&ps, d.file, err)
		return nil, ps.err()
	}
	merged, err := applyPatch(workload, p)
	if err != nil {
		return nil, &ValidationError{Problems: []Problem{{File: d.file, Msg: err.Error()}}}
	}
	return merged, nil
}

// concreteObject returns v as a Kubernetes object, or the problems that keep
// it from being one.
func concreteObject(file, field string, v cue.Value) (Object, error) {
	var ps problems
	if err := v.Validate(cue.Concrete(true)); err != nil {
		addCUEErrors(&ps, file, err)
		return nil, ps.err()
	}
	data, err := jsonValue(v)
	if err != nil {
		ps.add(file, 0, 0, "%s: %v", field, err)
		return nil, ps.err()
	}
	obj, err := asObject(data)
	if err != nil {
		ps.add(file, 0, 0, "%s: %v", field, err)
		return nil, ps.err()
	}
	return obj, nil
}

// contextWorkload returns the workload as JSON-shaped data: a caller's Go
// ints become json.Number, so that they compare equal to the patch's.
func contextWorkload(opts RenderOptions) Object {
	if opts.Workload != nil {
		return normalizeMap(opts.Workload)
	}
	return SampleWorkload(opts.Context.Name)
}

// contextData is the render context as data; a trait also sees the
// workload it patches.
func contextData(opts RenderOptions, trait bool) map[string]any {
	c := opts.Context
	data := map[string]any{
		"name":           c.Name,
		"namespace":      c.Namespace,
		"appName":        c.AppName,
		"appRevision":    c.AppRevision,
		"appRevisionNum": c.AppRevisionNum,
		"clusterVersion": map[string]any{
			"major": c.ClusterVersion.Major, "minor": c.ClusterVersion.Minor, "gitVersion": c.ClusterVersion.GitVersion,
		},
	}
	if trait {
		outs := map[string]any{}
		for k, o := range opts.WorkloadOutputs {
			outs[k] = o
		}
		data["output"], data["outputs"] = contextWorkload(opts), outs
	}
	return data
}

// fillJSON unifies data, as JSON, into v at path.
func fillJSON(cctx *cue.Context, v cue.Value, path string, data any) (cue.Value, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return v, fmt.Errorf("%s: %w: %w", path, ErrInvalid, err)
	}
	x := cctx.CompileBytes(raw)
	if err := x.Err(); err != nil {
		return v, fmt.Errorf("%s: %w: %w", path, ErrInvalid, err)
	}
	return v.FillPath(cue.ParsePath(path), x), nil
}

// checkUnknown reports given parameters the template does not declare.
func checkUnknown(decl cue.Value, given map[string]any, path string, ps *problems) {
	if decl.LookupPath(cue.MakePath(cue.AnyString)).Exists() {
		return // a pattern or "..." admits any name
	}
	for _, k := range slices.Sorted(maps.Keys(given)) {
		f := decl.LookupPath(cue.MakePath(cue.Str(k)))
		if !f.Exists() {
			f = decl.LookupPath(cue.MakePath(cue.Str(k).Optional()))
		}
		if !f.Exists() {
			ps.add("", 0, 0, "%s.%s: unknown parameter", path, k)
			continue
		}
		if sub, ok := given[k].(map[string]any); ok && f.IncompleteKind() == cue.StructKind {
			checkUnknown(f, sub, path+"."+k, ps)
		}
		// Structs inside a list are open in CUE: check their fields too.
		elem := f.LookupPath(cue.MakePath(cue.AnyIndex))
		if list, ok := given[k].([]any); ok && elem.Exists() && elem.IncompleteKind() == cue.StructKind {
			for i, e := range list {
				if sub, ok := e.(map[string]any); ok {
					checkUnknown(elem, sub, fmt.Sprintf("%s.%s.%d", path, k, i), ps)
				}
			}
		}
	}
}

// parameterProblems turns CUE's errors about the filled parameter block into
// one problem per parameter path.
func parameterProblems(err error) error {
	var ps problems
	var order []string
	msgs := map[string]string{}
	disjunction := map[string]bool{}
	for _, e := range cueerrors.Errors(err) {
		path := cuePath(e.Path())
		format, args := e.Msg()
		msg := fmt.Sprintf(format, args...)
		if rest, ok := strings.CutPrefix(msg, "incomplete value "); ok {
			msg = "required, not set (want " + rest + ")"
		}
		prev, seen := msgs[path]
		switch {
		case !seen:
			order = append(order, path)
			msgs[path] = msg
		// A disjunction's summary line says less than the conflicts under
		// it, and each of those tells of one disjunct only (for
		// `*1 | int & <=10` and 20, the first says "conflicting values 1
		// and 20"): keep them all.
		case strings.Contains(prev, "errors in empty disjunction"):
			msgs[path] = msg
			disjunction[path] = true
		case disjunction[path]:
			msgs[path] = prev + "; " + msg
		}
	}
	for _, path := range order {
		ps.add("", 0, 0, "%s: %s", path, msgs[path])
	}
	return ps.err()
}
