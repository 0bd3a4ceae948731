package capabilities

import (
	"bytes"
	"encoding/json"
	"fmt"

	"cuelang.org/go/cue"
)

// An Object is a Kubernetes object as JSON-shaped data: maps, slices,
// strings, bools, nil, and json.Number for every number, so that integers
// keep their exact value through a render.
type Object = map[string]any

// jsonValue returns v as JSON-shaped data with json.Number leaves. It fails
// when v is not concrete.
func jsonValue(v cue.Value) (any, error) {
	data, err := v.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return decodeJSON(data)
}

func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}

// normalize converts data decoded from YAML or Go values into JSON-shaped
// data. It fails on values JSON cannot hold, such as maps with non-string
// keys.
func normalize(v any) (any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return decodeJSON(data)
}

// normalizeMap is normalize for data already known to be JSON-compatible.
func normalizeMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out, err := normalize(m)
	if err != nil {
		return m
	}
	return out.(map[string]any)
}

// asObject checks that data is a JSON object.
func asObject(data any) (Object, error) {
	obj, ok := data.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("want an object, got %s", jsonKind(data))
	}
	return obj, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a bool"
	default:
		return "a number"
	}
}
