package capabilities

import (
	"fmt"
	"path"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/format"
	"cuelang.org/go/cue/parser"
)

// TemplateFile is the name of a bundle's X-Definition file.
const TemplateFile = "template.cue"

// A Definition is the OAM X-Definition in template.cue, written as for
// `vela def`: a header field `<name>: {type, description, labels,
// annotations, attributes}` beside a `template: {…}` field.
type Definition struct {
	// Name is the header's label; it equals the capability's short name.
	Name string `json:"name"`
	// Type is the header's type: component, trait or policy.
	Type        Kind              `json:"type"`
	Description string            `json:"description,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// Attributes is the header's attributes block, as JSON-shaped data
	// (e.g. workload.definition, appliesToWorkloads, podDisruptive).
	Attributes map[string]any `json:"attributes,omitempty"`
	// Template is the body of the template block with the file's imports,
	// formatted: what an OAM definition object holds in
	// spec.schematic.cue.template.
	Template string `json:"-"`

	file string // name for positions
	src  []byte // template.cue as written; re-parsed for every evaluation
	// schema is the parameter schema the check of src derived, which
	// ParameterSchema returns without evaluating again; nil when the
	// definition did not come from a check.
	schema *Schema
}

// contextSchema declares the render-time context a KubeVela template may
// reference. It stays open: templates may name context fields that only a
// full KubeVela controller fills, and those are reported when rendered.
const contextSchema = `context: {
	name:           string
	namespace:      string
	appName:        string
	appRevision:    string
	appRevisionNum: int
	clusterVersion: {
		major:      int
		minor:      int
		gitVersion: string
		...
	}
	output:  {...}
	outputs: {...}
	...
}
`

// ParseDefinition parses template.cue source; file names it in problems. It
// fails with a *ValidationError listing syntax errors with their positions,
// a missing or duplicated header, a missing template block or parameter,
// and any conflict the template holds before parameters are given.
func ParseDefinition(file string, src []byte) (*Definition, error) {
	var ps problems
	d := parseDefinition(file, src, &ps)
	if err := ps.err(); err != nil {
		return nil, err
	}
	return d, nil
}

func parseDefinition(file string, src []byte, ps *problems) *Definition {
	f, err := parser.ParseFile(file, src, parser.ParseComments)
	if err != nil {
		addCUEErrors(ps, file, err)
		return nil
	}
	var imports []ast.Decl
	var header, tmpl *ast.Field
	for _, decl := range f.Decls {
		switch decl := decl.(type) {
		case *ast.Package, *ast.CommentGroup, *ast.Attribute:
		case *ast.ImportDecl:
			imports = append(imports, decl)
		case *ast.Field:
			label, _, err := ast.LabelName(decl.Label)
			switch {
			case err != nil:
				addAt(ps, file, decl.Pos(), "top-level field label must be a plain name")
			case label == "template":
				tmpl = decl
			case header != nil:
				addAt(ps, file, decl.Pos(), "second header %q: a definition file holds one header beside template", label)
			default:
				header = decl
			}
		default:
			addAt(ps, file, decl.Pos(), "unexpected top-level declaration: want a header field and a template field")
		}
	}
	if header == nil {
		ps.add(file, 0, 0, "no header: want `<name>: {type: \"component\", …}` beside template")
	}
	if tmpl == nil {
		ps.add(file, 0, 0, "no template block: want `template: {parameter: {…}, …}`")
		return nil
	}
	body, ok := tmpl.Value.(*ast.StructLit)
	if !ok {
		addAt(ps, file, tmpl.Value.Pos(), "template must be a struct `{…}`")
		return nil
	}
	d := &Definition{file: file, src: src}
	if header != nil {
		parseHeader(d, file, imports, header, ps)
	}
	checkImportsUsed(file, imports, header, body, ps)
	text, err := format.Node(&ast.File{Decls: append(usedImports(imports, body), body.Elts...)})
	if err != nil {
		ps.add(file, 0, 0, "cannot format template body: %v", err)
		return nil
	}
	d.Template = string(text)
	checkTemplate(d, ps)
	return d
}

// parseHeader evaluates the header on its own: it must be concrete data.
func parseHeader(d *Definition, file string, imports []ast.Decl, header *ast.Field, ps *problems) {
	label, _, _ := ast.LabelName(header.Label)
	d.Name = label
	v := cuecontext.New().BuildFile(&ast.File{Filename: file, Decls: append(usedImports(imports, header), header)})
	if err := v.Err(); err != nil {
		addCUEErrors(ps, file, err) // say why, rather than "field not found"
		return
	}
	v = v.LookupPath(cue.MakePath(cue.Str(label)))
	if err := v.Validate(cue.Concrete(true)); err != nil {
		addCUEErrors(ps, file, err)
		return
	}
	var h struct {
		Type        string            `json:"type"`
		Description string            `json:"description"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
		Attributes  map[string]any    `json:"attributes"`
	}
	if err := v.Decode(&h); err != nil {
		addAt(ps, file, header.Pos(), "header %q: %v", label, err)
		return
	}
	d.Type, d.Description, d.Labels, d.Annotations = Kind(h.Type), h.Description, h.Labels, h.Annotations
	d.Attributes = normalizeMap(h.Attributes)
	if !d.Type.HasTemplate() {
		addAt(ps, file, header.Pos(), "header %q: type %q: want component, trait or policy", label, h.Type)
	}
}

// usedImports returns the import declarations whose package the header
// references: CUE refuses a file with an unused import, and the file's
// imports are there for the template.
func usedImports(imports []ast.Decl, header ast.Node) []ast.Decl {
	names := map[string]bool{}
	ast.Walk(header, func(n ast.Node) bool {
		// Only references the parser resolved to an import count: a label
		// such as `attributes: strings: […]` uses no package.
		if id, ok := n.(*ast.Ident); ok {
			if _, isImport := id.Node.(*ast.ImportSpec); isImport {
				names[id.Name] = true
			}
		}
		return true
	}, nil)
	var used []ast.Decl
	for _, decl := range imports {
		imp := decl.(*ast.ImportDecl)
		var specs []*ast.ImportSpec
		for _, spec := range imp.Specs {
			if names[importName(spec)] {
				specs = append(specs, spec)
			}
		}
		if len(specs) > 0 {
			used = append(used, &ast.ImportDecl{Specs: specs})
		}
	}
	return used
}

// checkImportsUsed reports the imports neither header nor body uses, as
// CUE would: each part is compiled with only the imports it uses.
func checkImportsUsed(file string, imports []ast.Decl, header *ast.Field, body *ast.StructLit, ps *problems) {
	for _, decl := range imports {
		for _, spec := range decl.(*ast.ImportDecl).Specs {
			one := []ast.Decl{&ast.ImportDecl{Specs: []*ast.ImportSpec{spec}}}
			if len(usedImports(one, body)) == 0 && (header == nil || len(usedImports(one, header)) == 0) {
				addAt(ps, file, spec.Pos(), "imported and not used: %s", spec.Path.Value)
			}
		}
	}
}

// importName is the name an import binds: its alias, or the last element
// of its path (before any ":" qualifier).
func importName(spec *ast.ImportSpec) string {
	if spec.Name != nil {
		return spec.Name.Name
	}
	p := strings.Trim(spec.Path.Value, `"`)
	if i := strings.LastIndexByte(p, ':'); i >= 0 {
		return p[i+1:]
	}
	return path.Base(p)
}

// checkTemplate compiles the body with the context schema and checks the
// fields every definition of its type needs.
func checkTemplate(d *Definition, ps *problems) {
	v, err := d.compile(cuecontext.New())
	if err != nil {
		addCUEErrors(ps, d.file, err)
		return
	}
	if err := v.Validate(); err != nil {
		addCUEErrors(ps, d.file, err)
		return
	}
	has := func(field string) bool { return v.LookupPath(cue.ParsePath(field)).Exists() }
	if p := v.LookupPath(cue.ParsePath("parameter")); !p.Exists() {
		ps.add(d.file, 0, 0, "template has no parameter block: want `parameter: {…}` (empty `{}` when it takes none)")
	} else if p.IncompleteKind() != cue.StructKind {
		addAt(ps, d.file, p.Pos(), "template.parameter must be a struct")
	}
	switch d.Type {
	case KindComponent:
		if !has("output") {
			ps.add(d.file, 0, 0, "component template has no output: want `output: {apiVersion, kind, …}`")
		}
	case KindTrait:
		if !has("patch") && !has("outputs") {
			ps.add(d.file, 0, 0, "trait template has neither patch nor outputs")
		}
	}
}

// compile builds the template body, with the context schema, in cctx. The
// source is parsed anew each time: CUE's compiler annotates the AST it is
// given, so a parsed file is never shared between evaluations.
func (d *Definition) compile(cctx *cue.Context) (cue.Value, error) {
	f, err := parser.ParseFile(d.file, d.src, parser.ParseComments)
	if err != nil {
		return cue.Value{}, err
	}
	ctxFile, err := parser.ParseFile("<context>", contextSchema)
	if err != nil {
		return cue.Value{}, err
	}
	body := &ast.File{Filename: d.file}
	var imports []ast.Decl
	for _, decl := range f.Decls {
		switch decl := decl.(type) {
		case *ast.ImportDecl:
			imports = append(imports, decl)
		case *ast.Field:
			if label, _, _ := ast.LabelName(decl.Label); label == "template" {
				if s, ok := decl.Value.(*ast.StructLit); ok {
					// Imports only the header uses would be unused here.
					body.Decls = append(usedImports(imports, s), s.Elts...)
				}
			}
		}
	}
	body.Decls = append(body.Decls, ctxFile.Decls...)
	v := cctx.BuildFile(body)
	return v, v.Err()
}

// addAt records a problem at a CUE token position.
func addAt(ps *problems, file string, pos interface {
	Line() int
	Column() int
}, format string, args ...any) {
	ps.add(file, pos.Line(), pos.Column(), format, args...)
}

// addCUEErrors records each error in a CUE error list, at its position in
// file when it has one there.
func addCUEErrors(ps *problems, file string, err error) {
	seen := map[string]bool{}
	for _, e := range cueerrors.Errors(err) {
		format, args := e.Msg()
		msg := fmt.Sprintf(format, args...)
		if path := cuePath(e.Path()); path != "" {
			msg = path + ": " + msg
		}
		line, col := 0, 0
		for _, p := range e.InputPositions() {
			if p.Filename() == file {
				line, col = p.Line(), p.Column()
				break
			}
		}
		if pos := e.Position(); line == 0 && pos.Filename() == file {
			line, col = pos.Line(), pos.Column()
		}
		key := fmt.Sprint(line, col, msg)
		if seen[key] {
			continue
		}
		seen[key] = true
		ps.add(file, line, col, "%s", msg)
	}
}

func cuePath(path []string) string {
	out := ""
	for i, p := range path {
		if i > 0 {
			out += "."
		}
		out += p
	}
	return out
}
