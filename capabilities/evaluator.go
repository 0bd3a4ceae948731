package capabilities

import (
	"bytes"
	"context"
	"encoding/json"
	"time"
)

// An Evaluator runs the package's two CUE evaluations: checking template.cue
// source, and rendering a definition. Load, Unpack and Render call the one
// in [Limits].Evaluator; nil means [InProcess].
//
// Requests and results are plain data, with no unexported state, so that
// an Evaluator may run them in another process (package evalproc does).
// An Evaluator bounds each evaluation by the request's Timeout and fails
// with an error wrapping [ErrTimeout] when it passes, and with ctx's error
// when ctx ends first.
type Evaluator interface {
	// Check parses and checks template.cue source as [ParseDefinition]
	// does, returning the problems found rather than failing with them,
	// and derives the parameter schema of source without problems.
	// It fails only when the evaluation could not run to its end.
	Check(ctx context.Context, req CheckRequest) (*CheckResult, error)
	// Render renders a definition as [Bundle.Render] does, and fails as it
	// does.
	Render(ctx context.Context, req RenderRequest) (*Rendered, error)
}

// A CheckRequest asks for template.cue source to be parsed and checked.
type CheckRequest struct {
	// File names the source in problems, e.g. "template.cue".
	File   string `json:"file"`
	Source []byte `json:"source"`
	// Timeout bounds the evaluation; zero or less runs it to its end.
	// It is the caller's bound, so it does not travel.
	Timeout time.Duration `json:"-"`
}

// A CheckResult is what checking template.cue found.
type CheckResult struct {
	// Definition is what the source defines, as far as it could be read;
	// nil when it has no template block to build one from.
	Definition *CheckedDefinition `json:"definition,omitempty"`
	// Problems lists everything wrong, in the order found.
	Problems []Problem `json:"problems,omitempty"`
}

// A CheckedDefinition is a [Definition] as data: its exported fields,
// Template included (which a Definition's own JSON form leaves out).
type CheckedDefinition struct {
	Name        string `json:"name"`
	Type        Kind   `json:"type"`
	Description string `json:"description,omitempty"`
	// Labels, Annotations and Attributes keep nil apart from empty.
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	Attributes  map[string]any    `json:"attributes"`
	Template    string            `json:"template"`
	// Schema is the parameter schema, derived when the source has no
	// problems, so that packing a bundle needs no evaluation of its own;
	// PropertyOrder is the declared order of its properties by JSON
	// Pointer, which Schema's JSON form leaves out.
	Schema        *Schema             `json:"schema,omitempty"`
	PropertyOrder map[string][]string `json:"propertyOrder,omitempty"`
}

// UnmarshalJSON decodes c as its JSON form, with numbers as json.Number as
// everywhere in the package, and gives its Schema back what that form
// loses (see PropertyOrder), so that a decoded CheckedDefinition equals
// the one encoded.
func (c *CheckedDefinition) UnmarshalJSON(data []byte) error {
	type plain CheckedDefinition // without this method
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode((*plain)(c)); err != nil {
		return err
	}
	if c.Schema != nil {
		c.Schema.restore(c.PropertyOrder)
	}
	return nil
}

// A RenderRequest asks for a definition to be rendered: its source and
// type, and the inputs of [RenderOptions] with the context's defaults
// already filled.
type RenderRequest struct {
	// File and Source are the definition's template.cue.
	File   string `json:"file"`
	Source []byte `json:"source"`
	// Type is the definition's header type: a trait renders its patch.
	Type Kind `json:"type"`
	// Parameters, Workload and WorkloadOutputs keep nil apart from empty:
	// a nil Workload is SampleWorkload, an empty one is not.
	Parameters      map[string]any    `json:"parameters"`
	Context         Context           `json:"context"`
	Workload        Object            `json:"workload"`
	WorkloadOutputs map[string]Object `json:"workloadOutputs"`
	// Timeout bounds the evaluation; zero or less runs it to its end.
	// It is the caller's bound, so it does not travel.
	Timeout time.Duration `json:"-"`
}

// InProcess is the Evaluator that evaluates in the calling process, which a
// nil Limits.Evaluator stands for. With a Timeout, an evaluation runs in a
// goroutine of its own and is abandoned, not stopped, when the bound passes
// or ctx ends: CUE cannot be interrupted (see Caveats in the package doc).
// Without one it runs to its end in the calling goroutine, as in a worker
// process whose parent enforces the bound. A panic in CUE becomes an error
// wrapping [ErrInvalid].
type InProcess struct{}

// Check parses and checks req.Source in this process.
func (InProcess) Check(ctx context.Context, req CheckRequest) (*CheckResult, error) {
	return bounded(ctx, req.Timeout, func() (*CheckResult, error) {
		var ps problems
		d := parseDefinition(req.File, req.Source, &ps)
		c := d.checked()
		if c != nil && len(ps) == 0 {
			s, err := d.ParameterSchema()
			if err != nil {
				ps.add(req.File, 0, 0, "parameter schema: %v", err)
			} else {
				c.Schema, c.PropertyOrder = s, s.propertyOrders()
			}
		}
		return &CheckResult{Definition: c, Problems: ps}, nil
	})
}

// Render renders req in this process.
func (InProcess) Render(ctx context.Context, req RenderRequest) (*Rendered, error) {
	return bounded(ctx, req.Timeout, func() (*Rendered, error) {
		d := &Definition{Type: req.Type, file: req.File, src: req.Source}
		return d.render(RenderOptions{
			Parameters: req.Parameters, Context: req.Context,
			Workload: req.Workload, WorkloadOutputs: req.WorkloadOutputs,
		})
	})
}

// evaluator is l's Evaluator, InProcess when none is set.
func (l Limits) evaluator() Evaluator {
	if l.Evaluator == nil {
		return InProcess{}
	}
	return l.Evaluator
}

// checked is d as data; nil for nil.
func (d *Definition) checked() *CheckedDefinition {
	if d == nil {
		return nil
	}
	return &CheckedDefinition{
		Name: d.Name, Type: d.Type, Description: d.Description,
		Labels: d.Labels, Annotations: d.Annotations, Attributes: d.Attributes,
		Template: d.Template,
	}
}

// definition is c as the Definition of source src in file; nil for nil.
func (c *CheckedDefinition) definition(file string, src []byte) *Definition {
	if c == nil {
		return nil
	}
	return &Definition{
		Name: c.Name, Type: c.Type, Description: c.Description,
		Labels: c.Labels, Annotations: c.Annotations, Attributes: c.Attributes,
		Template: c.Template, file: file, src: src, schema: c.Schema,
	}
}

// renderRequest is the request rendering d with opts, whose context
// defaults are filled, within timeout.
func (d *Definition) renderRequest(opts RenderOptions, timeout time.Duration) RenderRequest {
	return RenderRequest{
		File: d.file, Source: d.src, Type: d.Type,
		Parameters: opts.Parameters, Context: opts.Context,
		Workload: opts.Workload, WorkloadOutputs: opts.WorkloadOutputs,
		Timeout: timeout,
	}
}
