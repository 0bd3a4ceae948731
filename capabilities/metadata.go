package capabilities

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
	"go.yaml.in/yaml/v3"
)

// MetadataFile is the name of a bundle's metadata file.
const MetadataFile = "capability.yaml"

// Kind says what a capability is.
type Kind string

// The kinds of capability. Component, trait and policy bundles carry an OAM
// X-Definition in template.cue; controller bundles carry only manifests (the
// CRDs, RBAC and Deployments other capabilities depend on).
const (
	KindComponent  Kind = "component"
	KindTrait      Kind = "trait"
	KindPolicy     Kind = "policy"
	KindController Kind = "controller"
)

// HasTemplate reports whether bundles of kind k carry a template.cue.
func (k Kind) HasTemplate() bool { return k == KindComponent || k == KindTrait || k == KindPolicy }

func (k Kind) valid() bool { return k.HasTemplate() || k == KindController }

// Metadata is the content of capability.yaml, and of the artifact config.
type Metadata struct {
	// Name is "[namespace/]name", each part a DNS label.
	Name string `json:"name" yaml:"name"`
	// Version is a strict semver 2.0 version, without a "v".
	Version string `json:"version" yaml:"version"`
	Kind    Kind   `json:"kind" yaml:"kind"`
	// Description is one sentence for catalogs.
	Description string       `json:"description,omitempty" yaml:"description,omitempty"`
	Keywords    []string     `json:"keywords,omitempty" yaml:"keywords,omitempty"`
	Maintainers []Maintainer `json:"maintainers,omitempty" yaml:"maintainers,omitempty"`
	// AppliesTo lists, for traits, the workload types or resources the
	// trait patches; "*" means any.
	AppliesTo    []string     `json:"appliesTo,omitempty" yaml:"appliesTo,omitempty"`
	Dependencies []Dependency `json:"dependencies,omitempty" yaml:"dependencies,omitempty"`
	Requires     Requirements `json:"requires,omitzero" yaml:"requires,omitempty"`
	// Source is where the bundle's source lives, an http(s) URL.
	Source string `json:"source,omitempty" yaml:"source,omitempty"`
}

// A Maintainer is a person or team responsible for a capability.
type Maintainer struct {
	Name  string `json:"name" yaml:"name"`
	Email string `json:"email,omitempty" yaml:"email,omitempty"`
	URL   string `json:"url,omitempty" yaml:"url,omitempty"`
}

// A Dependency names another capability and the semver range of versions
// that satisfy it, e.g. {Name: "oam-definitions", Version: "^1.0.0"}.
type Dependency struct {
	Name    string `json:"name" yaml:"name"`
	Version string `json:"version" yaml:"version"`
}

// Requirements are constraints on the cluster a capability installs into.
type Requirements struct {
	// Kubernetes is a semver range the API server's version must satisfy.
	Kubernetes string `json:"kubernetes,omitempty" yaml:"kubernetes,omitempty"`
}

// ParseMetadata parses and validates capability.yaml content; file names it
// in problems. It fails with a *ValidationError listing every problem found,
// each with its line and column.
func ParseMetadata(file string, data []byte) (*Metadata, error) {
	var ps problems
	m := parseMetadata(file, data, &ps)
	if err := ps.err(); err != nil {
		return nil, err
	}
	return m, nil
}

// Validate checks metadata that did not come from a file (an artifact config,
// an API request). It fails with a *ValidationError.
func (m *Metadata) Validate() error {
	var ps problems
	checkMetadata(m, MetadataFile, func(string) (int, int) { return 0, 0 }, &ps)
	return ps.err()
}

// Encode returns m as capability.yaml content.
func (m *Metadata) Encode() []byte {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	_ = enc.Encode(m) // a struct of strings always encodes
	_ = enc.Close()
	return buf.Bytes()
}

var metadataFields = map[string]bool{
	"name": true, "version": true, "kind": true, "description": true, "keywords": true,
	"maintainers": true, "appliesTo": true, "dependencies": true, "requires": true, "source": true,
}

func parseMetadata(file string, data []byte, ps *problems) *Metadata {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			ps.add(file, 0, 0, "empty file: want name, version and kind")
		} else {
			line, msg := yamlErrorLine(err)
			ps.add(file, line, 0, "%s", msg)
		}
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		ps.add(file, extra.Line, extra.Column, "more than one YAML document")
		return nil
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		ps.add(file, root.Line, root.Column, "want a mapping of fields (name, version, kind, …)")
		return nil
	}
	pos := map[string][2]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k := root.Content[i]
		if !metadataFields[k.Value] {
			ps.add(file, k.Line, k.Column, "unknown field %q", k.Value)
		}
		recordPositions(k.Value, root.Content[i+1], pos)
	}
	var m Metadata
	if err := root.Decode(&m); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, e := range te.Errors {
				line, msg := yamlErrorLine(errors.New(e))
				ps.add(file, line, 0, "%s", msg)
			}
		} else {
			ps.add(file, 0, 0, "%v", err)
		}
		return nil
	}
	checkMetadata(&m, file, func(field string) (int, int) {
		p := pos[field]
		return p[0], p[1]
	}, ps)
	return &m
}

// recordPositions maps field paths ("dependencies[0].version") to the line
// and column of their value, so problems point at the offending text.
func recordPositions(path string, n *yaml.Node, pos map[string][2]int) {
	pos[path] = [2]int{n.Line, n.Column}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			recordPositions(path+"."+n.Content[i].Value, n.Content[i+1], pos)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			recordPositions(fmt.Sprintf("%s[%d]", path, i), c, pos)
		}
	}
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): `)

// yamlErrorLine splits "yaml: line 3: msg" into 3 and "msg".
func yamlErrorLine(err error) (int, string) {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n, "invalid YAML: " + msg[len(m[0]):]
	}
	return 0, "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")
}

var keywordPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$`)

// checkMetadata reports every rule m breaks; at locates a field path.
func checkMetadata(m *Metadata, file string, at func(string) (int, int), ps *problems) {
	add := func(field, format string, args ...any) {
		line, col := at(field)
		ps.add(file, line, col, field+": "+format, args...)
	}
	if m.Name == "" {
		add("name", "required")
	} else if err := ValidateName(m.Name); err != nil {
		add("name", "%v", err)
	}
	if m.Version == "" {
		add("version", "required")
	} else if _, err := semver.StrictNewVersion(m.Version); err != nil {
		add("version", "%q is not strict semver 2.0 (MAJOR.MINOR.PATCH, e.g. 1.0.0)", m.Version)
	}
	switch {
	case m.Kind == "":
		add("kind", "required: one of component, trait, policy, controller")
	case !m.Kind.valid():
		add("kind", "unknown kind %q: want one of component, trait, policy, controller", m.Kind)
	}
	if len(m.Description) > 1024 {
		add("description", "longer than 1024 characters")
	}
	for i, k := range m.Keywords {
		if !keywordPattern.MatchString(k) {
			add(fmt.Sprintf("keywords[%d]", i), "%q is not a keyword (lower-case letters, digits and '-', at most 32)", k)
		}
	}
	for i, mt := range m.Maintainers {
		if strings.TrimSpace(mt.Name) == "" {
			add(fmt.Sprintf("maintainers[%d].name", i), "required")
		}
	}
	checkAppliesTo(m, add)
	checkDependencies(m, add)
	if r := m.Requires.Kubernetes; r != "" {
		if _, err := semver.NewConstraint(r); err != nil {
			add("requires.kubernetes", "%q is not a semver range: %v", r, err)
		}
	}
	if m.Source != "" {
		if u, err := url.Parse(m.Source); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			add("source", "%q is not an http(s) URL", m.Source)
		}
	}
}

func checkAppliesTo(m *Metadata, add func(string, string, ...any)) {
	if m.Kind == KindTrait && len(m.AppliesTo) == 0 {
		add("appliesTo", "required for a trait: the workload types it patches, or [\"*\"]")
	}
	if m.Kind != KindTrait && m.Kind.valid() && len(m.AppliesTo) > 0 {
		add("appliesTo", "only traits apply to workloads, this is a %s", m.Kind)
	}
	for i, a := range m.AppliesTo {
		if a == "" || strings.ContainsAny(a, " \t\n/") && a != "*" {
			add(fmt.Sprintf("appliesTo[%d]", i), "%q is not a workload type or resource (e.g. webservice, deployments.apps, *)", a)
		}
	}
}

func checkDependencies(m *Metadata, add func(string, string, ...any)) {
	seen := map[string]bool{}
	for i, d := range m.Dependencies {
		field := fmt.Sprintf("dependencies[%d]", i)
		switch {
		case d.Name == "":
			add(field+".name", "required")
		case ValidateName(d.Name) != nil:
			add(field+".name", "%v", ValidateName(d.Name))
		case d.Name == m.Name:
			add(field+".name", "a capability cannot depend on itself")
		case seen[d.Name]:
			add(field+".name", "%q is listed twice", d.Name)
		}
		seen[d.Name] = true
		if d.Version == "" {
			add(field+".version", "required: a semver range such as ^1.2.0")
		} else if _, err := semver.NewConstraint(d.Version); err != nil {
			add(field+".version", "%q is not a semver range: %v", d.Version, err)
		}
	}
}
