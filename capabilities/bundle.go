package capabilities

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
)

// Well-known names inside a bundle.
const (
	ReadmeFile   = "README.md"
	ManifestsDir = "manifests"
	ExamplesDir  = "examples"
)

// A File is one file of a bundle; Name is slash-separated and relative to
// the bundle root, e.g. "manifests/crd.yaml".
type File struct {
	Name string
	Data []byte
}

// A Bundle is a capability as an author wrote it: metadata, the
// X-Definition, controller manifests, docs and examples. A Bundle returned by
// this package has been validated.
type Bundle struct {
	Metadata Metadata
	// MetadataYAML is capability.yaml as written, comments and all, so
	// that a pulled bundle gives its author's file back byte for byte. It
	// is used only while it says what Metadata says: when it is nil or
	// Metadata was changed since, the file is Metadata.Encode().
	MetadataYAML []byte
	// Template is template.cue as written; nil for controller bundles.
	Template []byte
	// Definition is Template parsed; nil for controller bundles.
	Definition *Definition
	// Manifests and Examples are sorted by name.
	Manifests []File
	Examples  []File
	Readme    []byte
}

// Files returns every file of the bundle in the order they are packed:
// capability.yaml, template, manifests, README, examples.
func (b *Bundle) Files() []File {
	files := []File{{MetadataFile, b.metadataFile()}}
	if b.Template != nil {
		files = append(files, File{TemplateFile, b.Template})
	}
	files = append(files, b.Manifests...)
	if b.Readme != nil {
		files = append(files, File{ReadmeFile, b.Readme})
	}
	return append(files, b.Examples...)
}

// Objects returns the objects of every manifest file, in file order.
func (b *Bundle) Objects() ([]Object, error) {
	var objs []Object
	for _, f := range b.Manifests {
		o, err := ParseManifests(f.Name, f.Data)
		if err != nil {
			return nil, err
		}
		objs = append(objs, o...)
	}
	return objs, nil
}

// Example returns the parameters of the example named name ("basic" or
// "examples/basic.yaml"). It fails when there is no such example or it is
// not a YAML mapping.
func (b *Bundle) Example(name string) (map[string]any, error) {
	for _, f := range b.Examples {
		if f.Name == name || f.Name == path.Join(ExamplesDir, name) || exampleName(f.Name) == name {
			return ParseParameters(f.Name, f.Data)
		}
	}
	return nil, fmt.Errorf("%s: no example %q: %w", b.Metadata.Name, name, ErrInvalid)
}

// exampleName is an example file's name without folder and extension.
func exampleName(file string) string {
	base := path.Base(file)
	return strings.TrimSuffix(strings.TrimSuffix(base, ".yaml"), ".yml")
}

// fileRole says where a bundle file belongs, by its path, or "" when it has
// no place in a bundle.
func fileRole(name string) string {
	switch {
	case name == TemplateFile || name == ReadmeFile || name == MetadataFile:
		return name
	case isYAMLIn(name, ManifestsDir):
		return ManifestsDir
	case isYAMLIn(name, ExamplesDir):
		return ExamplesDir
	}
	return ""
}

func isYAMLIn(name, dir string) bool {
	d, base := path.Split(name)
	return d == dir+"/" && base != "" && !strings.HasPrefix(base, ".") &&
		(strings.HasSuffix(base, ".yaml") || strings.HasSuffix(base, ".yml"))
}

// check validates everything in b beyond its metadata, which the caller has
// checked, and fills b.Definition. It renders every example.
func (b *Bundle) check(ctx context.Context, lim Limits, ps *problems) {
	m := &b.Metadata
	switch {
	case m.Kind.HasTemplate() && b.Template == nil:
		ps.add(TemplateFile, 0, 0, "missing: a %s bundle needs its X-Definition", m.Kind)
	case m.Kind == KindController && b.Template != nil:
		ps.add(TemplateFile, 0, 0, "a controller bundle carries manifests only; make it a component, trait or policy to ship a definition")
	case m.Kind == KindController && len(b.Manifests) == 0:
		ps.add(ManifestsDir, 0, 0, "a controller bundle needs at least one manifest")
	}
	if b.Template != nil {
		b.Definition = checkSource(ctx, lim, b.Template, ps)
	}
	if d := b.Definition; d != nil && m.Kind.valid() {
		if d.Name != "" && d.Name != ShortName(m.Name) {
			ps.add(TemplateFile, 0, 0, "header name %q does not match capability.yaml name %q", d.Name, ShortName(m.Name))
		}
		if d.Type.HasTemplate() && d.Type != m.Kind {
			ps.add(TemplateFile, 0, 0, "header type %q does not match capability.yaml kind %q", d.Type, m.Kind)
		}
	}
	for _, f := range b.Manifests {
		parseManifests(f.Name, f.Data, ps)
	}
	for _, f := range b.Examples {
		params, err := ParseParameters(f.Name, f.Data)
		if err != nil {
			*ps = append(*ps, Problems(err)...)
			continue
		}
		if b.Definition == nil || len(*ps) > 0 {
			continue // rendering would only repeat what is already wrong
		}
		if _, err := b.Render(ctx, RenderOptions{Parameters: params, Limits: lim}); err != nil {
			for _, p := range Problems(err) {
				p.Msg = "example " + f.Name + ": " + p.Msg
				if p.File == "" {
					p.File = f.Name
				}
				*ps = append(*ps, p)
			}
		}
	}
}

// checkSource parses and checks template.cue through lim's Evaluator,
// bounded by lim.EvalTimeout, since checking a template evaluates it: a
// template that evaluates too long (or, in a worker process, needs too
// much memory) is one more problem naming template.cue, not a hang.
func checkSource(ctx context.Context, lim Limits, src []byte, ps *problems) *Definition {
	r, err := lim.evaluator().Check(ctx, CheckRequest{File: TemplateFile, Source: src, Timeout: lim.EvalTimeout})
	if err != nil {
		ps.add(TemplateFile, 0, 0, "%v", err)
		return nil
	}
	*ps = append(*ps, r.Problems...)
	return r.Definition.definition(TemplateFile, src)
}

// sortFiles orders files by name, so that a bundle packs the same whatever
// order the files were read in.
func sortFiles(files []File) {
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
}

// metadataFile is the capability.yaml to pack: MetadataYAML when it still
// agrees with Metadata, Metadata.Encode() otherwise.
func (b *Bundle) metadataFile() []byte {
	want := b.Metadata.Encode()
	if b.MetadataYAML != nil {
		if m, err := ParseMetadata(MetadataFile, b.MetadataYAML); err == nil && bytes.Equal(m.Encode(), want) {
			return b.MetadataYAML
		}
	}
	return want
}
