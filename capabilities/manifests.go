package capabilities

import (
	"bytes"
	"errors"
	"io"

	"go.yaml.in/yaml/v3"
)

// ParseManifests parses a multi-document YAML file of Kubernetes objects;
// file names it in problems. Empty documents are skipped. It fails with a
// *ValidationError naming each document that is not YAML, not a mapping, or
// lacks apiVersion, kind or metadata.name.
func ParseManifests(file string, data []byte) ([]Object, error) {
	var ps problems
	objs := parseManifests(file, data, &ps)
	if err := ps.err(); err != nil {
		return nil, err
	}
	return objs, nil
}

func parseManifests(file string, data []byte, ps *problems) []Object {
	var objs []Object
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for doc := 1; ; doc++ {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			line, msg := yamlErrorLine(err)
			ps.add(file, line, 0, "document %d: %s", doc, msg)
			return objs
		}
		if obj := parseObject(file, doc, &n, ps); obj != nil {
			objs = append(objs, obj)
		}
	}
}

func parseObject(file string, doc int, n *yaml.Node, ps *problems) Object {
	root := n
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == yaml.DocumentNode || root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil // an empty document, e.g. a trailing "---"
	}
	if root.Kind != yaml.MappingNode {
		ps.add(file, root.Line, root.Column, "document %d: want a Kubernetes object (a mapping)", doc)
		return nil
	}
	var raw any
	if err := root.Decode(&raw); err != nil {
		line, msg := yamlErrorLine(err)
		ps.add(file, line, 0, "document %d: %s", doc, msg)
		return nil
	}
	data, err := normalize(raw)
	if err != nil {
		ps.add(file, root.Line, root.Column, "document %d: not JSON-compatible: %v", doc, err)
		return nil
	}
	obj := data.(map[string]any)
	before := len(*ps)
	for _, field := range []string{"apiVersion", "kind"} {
		if s, _ := obj[field].(string); s == "" {
			ps.add(file, root.Line, root.Column, "document %d: %s: required, a non-empty string", doc, field)
		}
	}
	meta, _ := obj["metadata"].(map[string]any)
	if name, _ := meta["name"].(string); name == "" {
		ps.add(file, root.Line, root.Column, "document %d: metadata.name: required, a non-empty string", doc)
	}
	if len(*ps) > before {
		return nil
	}
	return obj
}
