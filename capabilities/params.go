package capabilities

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ParseParameters parses a YAML or JSON mapping of template parameters; file
// names it in problems. An empty file is an empty mapping. It fails with a
// *ValidationError when the content is not one mapping.
func ParseParameters(file string, data []byte) (map[string]any, error) {
	var ps problems
	var raw any
	dec := yaml.NewDecoder(bytes.NewReader(data))
	err := dec.Decode(&raw)
	switch {
	case errors.Is(err, io.EOF):
		return map[string]any{}, nil
	case err != nil:
		line, msg := yamlErrorLine(err)
		ps.add(file, line, 0, "%s", msg)
		return nil, ps.err()
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		ps.add(file, 0, 0, "want one YAML document of parameters")
		return nil, ps.err()
	}
	if raw == nil {
		return map[string]any{}, nil
	}
	data2, err := normalize(raw)
	if err != nil {
		ps.add(file, 0, 0, "parameters are not JSON-compatible: %v", err)
		return nil, ps.err()
	}
	m, ok := data2.(map[string]any)
	if !ok {
		ps.add(file, 0, 0, "want a mapping of parameter names to values, got %s", jsonKind(data2))
		return nil, ps.err()
	}
	return m, nil
}

// SetParameter applies one "--set" expression, "a.b=value", to params,
// creating nested mappings as needed. The value is read as YAML scalar
// (3 is a number, true a bool, null null, [a, b] a list), unless asString.
// It fails with an error wrapping ErrInvalid naming the expression.
func SetParameter(params map[string]any, expr string, asString bool) error {
	key, raw, ok := strings.Cut(expr, "=")
	if !ok || key == "" {
		return fmt.Errorf("--set %q: %w: want path=value", expr, ErrInvalid)
	}
	parts := strings.Split(key, ".")
	for _, p := range parts {
		if p == "" {
			return fmt.Errorf("--set %q: %w: empty name in path %q", expr, ErrInvalid, key)
		}
	}
	var value any = raw
	if !asString {
		var v any
		if err := yaml.Unmarshal([]byte(raw), &v); err != nil {
			return fmt.Errorf("--set %q: %w: %w", expr, ErrInvalid, err)
		}
		n, err := normalize(v)
		if err != nil {
			return fmt.Errorf("--set %q: %w: %w", expr, ErrInvalid, err)
		}
		value = n
	}
	m := params
	for i, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			if _, exists := m[p]; exists {
				return fmt.Errorf("--set %q: %w: %s is not a mapping", expr, ErrInvalid, strings.Join(parts[:i+1], "."))
			}
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = value
	return nil
}

// numberString keeps json.Number values printable in errors.
func numberString(v any) string {
	switch v := v.(type) {
	case json.Number:
		return v.String()
	case string:
		return strconv.Quote(v)
	default:
		data, err := json.Marshal(v)
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(data)
	}
}
