package capabilities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// golden compares got with the file testdata/golden/name, or rewrites the
// file with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata/golden", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update to accept):\n got %s\nwant %s", path, got, want)
	}
}

func TestParameterSchema(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("testdata/golden/schema.cue")
	if err != nil {
		t.Fatal(err)
	}
	d, err := ParseDefinition("schema.cue", src)
	if err != nil {
		t.Fatalf("ParseDefinition: %v", err)
	}
	s, err := d.ParameterSchema()
	if err != nil {
		t.Fatalf("ParameterSchema: %v", err)
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "schema.json", append(data, '\n'))

	// The points that matter, spelled out, so that a careless -update
	// cannot accept a wrong schema.
	wantOrder := []string{"image", "name", "replicas", "cpu", "pullPolicy", "protocol", "expose", "labels", "ports",
		"resources", "target", "extra", "notes", "undocumented"}
	if got := s.PropertyNames(); !reflect.DeepEqual(got, wantOrder) {
		t.Errorf("PropertyNames() = %q, want %q", got, wantOrder)
	}
	if want := []string{"image", "protocol", "target"}; !reflect.DeepEqual(s.Required, want) {
		t.Errorf("Required = %q, want %q", s.Required, want)
	}
	p := s.Properties
	tests := []struct {
		name      string
		got, want any
	}{
		{"image type", p["image"].TypeString(), "string"},
		{"image usage", p["image"].Description, "Container image to run"},
		{"replicas type", p["replicas"].TypeString(), "integer"},
		{"replicas default", p["replicas"].Default, json.Number("1")},
		{"replicas minimum", numberOrNil(p["replicas"].Minimum), "1"},
		{"replicas maximum", numberOrNil(p["replicas"].Maximum), "10"},
		{"name pattern with a default", p["name"].Pattern, "^[a-z]+$"},
		{"cpu type", p["cpu"].TypeString(), "number"},
		{"cpu exclusive minimum", numberOrNil(p["cpu"].ExclusiveMinimum), "0"},
		{"cpu maximum", numberOrNil(p["cpu"].Maximum), "64"},
		{"pullPolicy enum", p["pullPolicy"].Enum, []any{"IfNotPresent", "Always", "Never"}},
		{"pullPolicy default", p["pullPolicy"].Default, "IfNotPresent"},
		{"protocol enum", p["protocol"].Enum, []any{"TCP", "UDP", "SCTP"}},
		{"expose type", p["expose"].TypeString(), "boolean"},
		{"expose default", p["expose"].Default, false},
		{"labels type", p["labels"].TypeString(), "map of string"},
		{"ports type", p["ports"].TypeString(), "array of object"},
		{"ports item required", p["ports"].Items.Required, []string{"port"}},
		{"port minimum", numberOrNil(p["ports"].Items.Properties["port"].Minimum), "1"},
		{"port maximum", numberOrNil(p["ports"].Items.Properties["port"].Maximum), "65535"},
		{"port usage", p["ports"].Items.Properties["port"].Description, "Port number"},
		{"port name pattern", p["ports"].Items.Properties["name"].Pattern, "^[a-z][a-z0-9-]*$"},
		{"resources type", p["resources"].TypeString(), "object"},
		{"resources required", p["resources"].Required, []string{"memory"}},
		{"resources.cpu default", p["resources"].Properties["cpu"].Default, "500m"},
		{"target type", p["target"].TypeString(), "integer|string"},
		{"extra type", p["extra"].TypeString(), "any"},
		{"notes usage", p["notes"].Description, "First line of a long description, and its second line."},
		{"undocumented usage", p["undocumented"].Description, ""},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s = %#v, want %#v", tt.name, tt.got, tt.want)
		}
	}
}

func numberOrNil(n *json.Number) any {
	if n == nil {
		return nil
	}
	return n.String()
}

// TestParameterSchemaDepth shows that a parameter block nested deeper than
// the schema follows still yields a schema.
func TestParameterSchemaDepth(t *testing.T) {
	t.Parallel()
	nested := "leaf: string"
	for range maxSchemaDepth + 8 {
		nested = "n: {" + nested + "}"
	}
	b := newBundle(t, KindComponent, `
	output: {apiVersion: "v1", kind: "ConfigMap", metadata: name: context.name}
	parameter: {`+nested+`}`)
	s, err := b.Definition.ParameterSchema()
	if err != nil {
		t.Fatalf("ParameterSchema: %v", err)
	}
	depth := 0
	for ; s.Properties["n"] != nil; s = s.Properties["n"] {
		depth++
	}
	if depth != maxSchemaDepth {
		t.Errorf("schema depth = %d, want %d", depth, maxSchemaDepth)
	}
}

// TestParameterSchemaNodes shows that a parameter block whose structs each
// hold two of the level below, which CUE checks at once, is refused by
// the schema walk instead of being described 2^40 times over.
func TestParameterSchemaNodes(t *testing.T) {
	t.Parallel()
	var src strings.Builder
	src.WriteString("doubling: type: \"component\"\ntemplate: {\n\t#T0: {a: string, b: string}\n")
	for i := 1; i < 40; i++ {
		fmt.Fprintf(&src, "\t#T%d: {a: #T%d, b: #T%d}\n", i, i-1, i-1)
	}
	src.WriteString("\toutput: {apiVersion: \"v1\", kind: \"ConfigMap\", metadata: name: context.name}\n\tparameter: x?: #T39\n}\n")
	d, err := ParseDefinition(TemplateFile, []byte(src.String()))
	if err != nil {
		t.Fatalf("ParseDefinition: %v", err)
	}
	_, err = d.ParameterSchema()
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "parameter") {
		t.Fatalf("ParameterSchema: %v, want an error naming the parameter block and wrapping ErrTooLarge", err)
	}
	// Loading the bundle derives the schema while checking the template:
	// the refusal is a problem naming template.cue.
	_, err = FromFiles(context.Background(), []File{
		{Name: MetadataFile, Data: []byte("name: doubling\nversion: 1.0.0\nkind: component\ndescription: doubling\n")},
		{Name: TemplateFile, Data: []byte(src.String())},
	}, Limits{EvalTimeout: 2 * time.Minute}) // the walk is slow under -race
	if err == nil || !strings.Contains(err.Error(), TemplateFile) || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("FromFiles: %v, want a problem of template.cue", err)
	}
}
