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

// MaxSetIndex bounds a list index in a --set path, so that `a[999999999]=1`
// cannot allocate a huge list.
const MaxSetIndex = 1023

// SetParameter applies one "--set" expression to params, as helm does:
// "a.b=value" sets a nested field, creating mappings as needed, and
// "ports[0].port=80" indexes a list, creating it and padding it with nulls
// up to the index (at most MaxSetIndex). The value is read as a YAML scalar
// (3 is a number, true a bool, null null, [a, b] a list), unless asString.
// It fails with an error wrapping ErrInvalid naming the expression when the
// path is malformed, crosses a value of another shape, or params is nil.
func SetParameter(params map[string]any, expr string, asString bool) error {
	key, raw, ok := strings.Cut(expr, "=")
	if !ok || key == "" {
		return fmt.Errorf("--set %q: %w: want path=value", expr, ErrInvalid)
	}
	if params == nil {
		return fmt.Errorf("--set %q: %w: no parameters to set it in", expr, ErrInvalid)
	}
	steps, err := parseSetPath(key)
	if err != nil {
		return fmt.Errorf("--set %q: %w: %w", expr, ErrInvalid, err)
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
	if _, err := setPath(params, steps, value, ""); err != nil {
		return fmt.Errorf("--set %q: %w: %w", expr, ErrInvalid, err)
	}
	return nil
}

// setStep is one step of a --set path: a field name, or a list index when
// index is not negative.
type setStep struct {
	name  string
	index int
}

// parseSetPath splits "a.b[0][1].c" into its steps. Every dotted part needs
// a name; indexes are decimal, at most MaxSetIndex.
func parseSetPath(key string) ([]setStep, error) {
	var steps []setStep
	for part := range strings.SplitSeq(key, ".") {
		name, rest, indexed := strings.Cut(part, "[")
		if name == "" {
			return nil, fmt.Errorf("empty name in path %q", key)
		}
		steps = append(steps, setStep{name: name, index: -1})
		if indexed {
			rest = "[" + rest
		}
		for rest != "" {
			end := strings.IndexByte(rest, ']')
			if rest[0] != '[' || end < 0 {
				return nil, fmt.Errorf("path %q: want name[index], each index in brackets", key)
			}
			digits := rest[1:end]
			n, err := strconv.Atoi(digits)
			if err != nil || n > MaxSetIndex || strings.Trim(digits, "0123456789") != "" {
				return nil, fmt.Errorf("path %q: index %q: want a number from 0 to %d", key, digits, MaxSetIndex)
			}
			steps = append(steps, setStep{index: n})
			rest = rest[end+1:]
		}
	}
	return steps, nil
}

// setPath sets value at steps below cur (nil creates what is missing) and
// returns cur as changed; at names a path so far, for errors.
func setPath(cur any, steps []setStep, value any, at string) (any, error) {
	if len(steps) == 0 {
		return value, nil
	}
	s := steps[0]
	if s.index < 0 {
		m, ok := cur.(map[string]any)
		switch {
		case cur == nil:
			m = map[string]any{}
		case !ok:
			return nil, fmt.Errorf("%s is not a mapping", at)
		}
		at = strings.TrimPrefix(at+"."+s.name, ".")
		v, err := setPath(m[s.name], steps[1:], value, at)
		if err != nil {
			return nil, err
		}
		m[s.name] = v
		return m, nil
	}
	l, ok := cur.([]any)
	if cur != nil && !ok {
		return nil, fmt.Errorf("%s is not a list", at)
	}
	for len(l) <= s.index {
		l = append(l, nil)
	}
	v, err := setPath(l[s.index], steps[1:], value, fmt.Sprintf("%s[%d]", at, s.index))
	if err != nil {
		return nil, err
	}
	l[s.index] = v
	return l, nil
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
