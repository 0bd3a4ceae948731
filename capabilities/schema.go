package capabilities

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/cuecontext"
)

// maxSchemaDepth bounds how deep ParameterSchema follows nested structs, so
// that recursive or hostile parameter blocks still yield a schema.
const maxSchemaDepth = 32

// maxSchemaNodes bounds how many schemas ParameterSchema derives for one
// parameter block: a block whose structs refer to others twice over
// doubles at each level, and would take CUE moments to check but ages to
// describe.
const maxSchemaNodes = 10000

// A Schema is the JSON Schema (draft 2020-12 subset) of a template's
// parameters.
type Schema struct {
	Type                 any                `json:"type,omitempty"` // a name, or a list of names
	Description          string             `json:"description,omitempty"`
	Default              any                `json:"default,omitempty"`
	Enum                 []any              `json:"enum,omitempty"`
	Properties           map[string]*Schema `json:"properties,omitempty"`
	Required             []string           `json:"required,omitempty"`
	Items                *Schema            `json:"items,omitempty"`
	AdditionalProperties *Schema            `json:"additionalProperties,omitempty"`
	Minimum              *json.Number       `json:"minimum,omitempty"`
	Maximum              *json.Number       `json:"maximum,omitempty"`
	ExclusiveMinimum     *json.Number       `json:"exclusiveMinimum,omitempty"`
	ExclusiveMaximum     *json.Number       `json:"exclusiveMaximum,omitempty"`
	Pattern              string             `json:"pattern,omitempty"`

	// order lists Properties as the template declares them.
	order []string
}

// PropertyNames returns the names of s's properties in declaration order
// when s was derived from a template, else sorted.
func (s *Schema) PropertyNames() []string {
	if len(s.order) == len(s.Properties) {
		return s.order
	}
	names := make([]string, 0, len(s.Properties))
	for k := range s.Properties {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// TypeString is the schema's type for people: "string", "integer|string",
// "array of string", "map of string", or "any".
func (s *Schema) TypeString() string {
	switch t := s.Type.(type) {
	case string:
		switch {
		case t == "array" && s.Items != nil:
			return "array of " + s.Items.TypeString()
		case t == "object" && s.AdditionalProperties != nil && len(s.Properties) == 0:
			return "map of " + s.AdditionalProperties.TypeString()
		}
		return t
	case []string:
		return strings.Join(t, "|")
	case []any:
		parts := make([]string, len(t))
		for i, p := range t {
			parts[i], _ = p.(string)
		}
		return strings.Join(parts, "|")
	}
	return "any"
}

// ParameterSchema derives the JSON Schema of the template's parameter block:
// types, defaults, enums, bounds, required fields (neither optional nor
// defaulted) and descriptions from `// +usage=` comments. A definition
// from Load or Unpack returns the schema its Evaluator derived while
// checking it; any other (ParseDefinition's) evaluates in this process.
// It fails when the template does not compile.
func (d *Definition) ParameterSchema() (*Schema, error) {
	if d.schema != nil {
		return d.schema, nil
	}
	v, err := d.compile(cuecontext.New())
	if err != nil {
		return nil, err
	}
	var b schemaBuilder
	s := b.schemaOf(v.LookupPath(cue.ParsePath("parameter")), 0)
	if b.nodes > maxSchemaNodes {
		return nil, fmt.Errorf("parameter: %w: more than %d fields and types to describe", ErrTooLarge, maxSchemaNodes)
	}
	return s, nil
}

// schemaBuilder derives schemas, counting them against maxSchemaNodes.
type schemaBuilder struct {
	nodes int
}

// schemaOf derives the schema of v, at depth below the parameter block;
// past maxSchemaNodes it returns empty schemas at once.
func (b *schemaBuilder) schemaOf(v cue.Value, depth int) *Schema {
	s := &Schema{}
	if b.nodes++; b.nodes > maxSchemaNodes {
		return s
	}
	if d, ok := v.Default(); ok && d.IsConcrete() {
		if data, err := jsonValue(d); err == nil {
			s.Default = data
		}
	}
	if enum := enumOf(v); enum != nil {
		s.Enum = enum
	}
	kind := kindOf(v)
	s.Type = typeOf(kind)
	boundsOf(v, s)
	if depth >= maxSchemaDepth {
		return s
	}
	switch kind {
	case cue.StructKind:
		b.structSchema(v, s, depth)
	case cue.ListKind:
		if items, ok := listItems(v); ok {
			s.Items = b.schemaOf(items, depth+1)
		}
	}
	return s
}

// kindOf is v's incomplete kind, or, where a validator such as
// list.MinItems leaves v incomplete (bottom), the kinds of its operands.
func kindOf(v cue.Value) cue.Kind {
	k := v.IncompleteKind()
	if k != cue.BottomKind {
		return k
	}
	_, args := v.Expr()
	for _, a := range args {
		k |= a.IncompleteKind()
	}
	return k
}

// listItems finds the element type of a list value, looking into the
// operands of `*[] | [...T]` and `[...T] & list.MinItems(n)` when the value
// itself has lost it.
func listItems(v cue.Value) (cue.Value, bool) {
	anyIndex := cue.MakePath(cue.AnyIndex)
	if items := v.LookupPath(anyIndex); items.Exists() {
		return items, true
	}
	_, args := v.Expr()
	for _, a := range args {
		if a.IncompleteKind()&cue.ListKind == 0 {
			continue
		}
		if items := a.LookupPath(anyIndex); items.Exists() {
			return items, true
		}
	}
	return cue.Value{}, false
}

// structSchema fills s, the schema of struct v, with v's fields.
func (b *schemaBuilder) structSchema(v cue.Value, s *Schema, depth int) {
	if ap := v.LookupPath(cue.MakePath(cue.AnyString)); ap.Exists() {
		s.AdditionalProperties = b.schemaOf(ap, depth+1)
	}
	it, err := v.Fields(cue.Optional(true))
	if err != nil {
		return
	}
	for it.Next() && b.nodes <= maxSchemaNodes {
		name := it.Selector().Unquoted()
		fs := b.schemaOf(it.Value(), depth+1)
		fs.Description = usageOf(it.Value().Doc())
		optional := it.Selector().ConstraintType() == cue.OptionalConstraint
		if op, _ := it.Value().Expr(); optional && op != cue.OrOp {
			// An open list's implicit [] is no default: an optional field
			// left unset is absent.
			fs.Default = nil
		}
		if s.Properties == nil {
			s.Properties = map[string]*Schema{}
		}
		s.Properties[name] = fs
		s.order = append(s.order, name)
		_, hasDefault := it.Value().Default()
		if !optional && !hasDefault {
			s.Required = append(s.Required, name)
		}
	}
}

func typeOf(k cue.Kind) any {
	var names []string
	for _, t := range []struct {
		k    cue.Kind
		name string
	}{
		{cue.NullKind, "null"}, {cue.BoolKind, "boolean"}, {cue.StringKind, "string"},
		{cue.BytesKind, "string"}, {cue.StructKind, "object"}, {cue.ListKind, "array"},
	} {
		if k&t.k != 0 && !slices.Contains(names, t.name) {
			names = append(names, t.name)
		}
	}
	switch {
	case k&cue.NumberKind == cue.NumberKind:
		names = append(names, "number")
	case k&cue.IntKind != 0:
		names = append(names, "integer")
	}
	switch {
	case k == cue.TopKind || len(names) == 0:
		return nil
	case len(names) == 1:
		return names[0]
	}
	slices.Sort(names)
	return names
}

// enumOf returns the values of a disjunction of concrete scalars.
func enumOf(v cue.Value) []any {
	op, args := v.Expr()
	if op != cue.OrOp {
		return nil
	}
	var enum []any
	for _, a := range args {
		if !a.IsConcrete() || a.Kind()&(cue.StructKind|cue.ListKind) != 0 {
			return nil
		}
		data, err := jsonValue(a)
		if err != nil {
			return nil
		}
		enum = append(enum, data)
	}
	return enum
}

// boundsOf records numeric bounds and a string pattern from expressions
// such as `int & >=1 & <=10` or `=~"^[a-z]+$"`.
func boundsOf(v cue.Value, s *Schema) {
	op, args := v.Expr()
	if op == cue.AndOp {
		for _, a := range args {
			boundsOf(a, s)
		}
		return
	}
	if len(args) != 1 {
		return
	}
	if op == cue.NoOp {
		// A defaulted value, `*1 | int & >=1`, shows its constraint as the
		// one argument of a NoOp; a plain value shows itself.
		if inner, _ := args[0].Expr(); inner != cue.NoOp {
			boundsOf(args[0], s)
		}
		return
	}
	if op == cue.RegexMatchOp {
		s.Pattern, _ = args[0].String()
		return
	}
	n, err := args[0].MarshalJSON()
	if err != nil || args[0].Kind()&cue.NumberKind == 0 {
		return
	}
	num := json.Number(n)
	switch op {
	case cue.GreaterThanEqualOp:
		s.Minimum = &num
	case cue.LessThanEqualOp:
		s.Maximum = &num
	case cue.GreaterThanOp:
		s.ExclusiveMinimum = &num
	case cue.LessThanOp:
		s.ExclusiveMaximum = &num
	}
}

// usageOf returns the text of `// +usage=` comments.
func usageOf(doc []*ast.CommentGroup) string {
	var parts []string
	for _, cg := range doc {
		for _, c := range cg.List {
			text := strings.TrimSpace(strings.TrimPrefix(c.Text, "//"))
			if u, ok := strings.CutPrefix(text, "+usage="); ok {
				parts = append(parts, strings.TrimSpace(u))
			}
		}
	}
	return strings.Join(parts, " ")
}

// propertyOrders returns the declared order of the properties of s and of
// every schema within it, keyed by the schema's JSON Pointer from s ("" for
// s itself): what s's JSON form leaves out.
func (s *Schema) propertyOrders() map[string][]string {
	orders := map[string][]string{}
	s.walk("", func(ptr string, t *Schema) {
		if len(t.order) > 0 {
			orders[ptr] = t.order
		}
	})
	return orders
}

// restore gives s and the schemas within it back what their JSON form
// loses: the property orders propertyOrders returned, and a list of type
// names as the []string ParameterSchema makes. An order that does not name
// exactly a schema's properties is ignored: that schema's names stay
// sorted.
func (s *Schema) restore(orders map[string][]string) {
	s.walk("", func(ptr string, t *Schema) {
		if list, ok := t.Type.([]any); ok {
			names := make([]string, 0, len(list))
			for _, v := range list {
				if name, ok := v.(string); ok {
					names = append(names, name)
				}
			}
			if len(names) == len(list) {
				t.Type = names
			}
		}
		o, ok := orders[ptr]
		if !ok || len(o) != len(t.Properties) {
			return
		}
		for _, name := range o {
			if _, ok := t.Properties[name]; !ok {
				return
			}
		}
		t.order = o
	})
}

// walk calls fn with s and every schema within it, each with its JSON
// Pointer from s, whose start is ptr.
func (s *Schema) walk(ptr string, fn func(ptr string, s *Schema)) {
	if s == nil {
		return
	}
	fn(ptr, s)
	for name, p := range s.Properties {
		p.walk(ptr+"/properties/"+pointerToken(name), fn)
	}
	s.Items.walk(ptr+"/items", fn)
	s.AdditionalProperties.walk(ptr+"/additionalProperties", fn)
}

// pointerToken escapes name as one JSON Pointer reference token (RFC 6901).
func pointerToken(name string) string {
	return strings.ReplaceAll(strings.ReplaceAll(name, "~", "~0"), "/", "~1")
}
