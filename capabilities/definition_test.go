package capabilities

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestParseDefinition(t *testing.T) {
	t.Parallel()
	const body = "template: {\n\toutput: {apiVersion: \"v1\", kind: \"ConfigMap\", metadata: name: context.name}\n\tparameter: {}\n}\n"
	tests := []struct {
		name string
		src  string
		want *Definition // the header fields; nil when problems are wanted
		errs []wantProblem
	}{
		{
			name: "header fields",
			src: "demo: {\n\ttype: \"component\"\n\tdescription: \"A demo.\"\n\tlabels: \"a.io/b\": \"c\"\n\tannotations: x: \"y\"\n" +
				"\tattributes: {workload: type: \"autodetects.core.oam.dev\", podDisruptive: false, replicas: 3}\n}\n" + body,
			want: &Definition{Name: "demo", Type: KindComponent, Description: "A demo.", Labels: map[string]string{"a.io/b": "c"},
				Annotations: map[string]string{"x": "y"}, Attributes: map[string]any{
					"workload": map[string]any{"type": "autodetects.core.oam.dev"}, "podDisruptive": false, "replicas": jsonNumber("3")}},
		},
		{
			name: "quoted header label",
			src:  "\"my-demo\": type: \"policy\"\ntemplate: parameter: {}\n",
			want: &Definition{Name: "my-demo", Type: KindPolicy},
		},
		{
			name: "an attribute named like an import",
			src:  "import \"strings\"\n\ndemo: {\n\ttype: \"component\"\n\tattributes: strings: [\"a\"]\n}\n" + strings.Replace(body, "context.name", "strings.ToLower(context.name)", 1),
			want: &Definition{Name: "demo", Type: KindComponent, Attributes: map[string]any{"strings": []any{"a"}}},
		},
		{
			name: "an import used in the header only",
			src:  "import \"strings\"\n\ndemo: {\n\ttype: \"component\"\n\tdescription: strings.ToUpper(\"loud\")\n}\n" + body,
			want: &Definition{Name: "demo", Type: KindComponent, Description: "LOUD"},
		},
		{
			name: "package clause and attributes are allowed",
			src:  "package demo\n\n@extern(x)\n\ndemo: type: \"trait\"\ntemplate: {patch: {}, parameter: {}}\n",
			want: &Definition{Name: "demo", Type: KindTrait},
		},
		{
			name: "no header",
			src:  body,
			errs: []wantProblem{{TemplateFile, 0, 0, "no header"}},
		},
		{
			name: "no template",
			src:  "demo: type: \"component\"\n",
			errs: []wantProblem{{TemplateFile, 0, 0, "no template block"}},
		},
		{
			name: "two headers",
			src:  "demo: type: \"component\"\nother: type: \"component\"\n" + body,
			errs: []wantProblem{{TemplateFile, 2, 1, `second header "other"`}},
		},
		{
			name: "template not a struct",
			src:  "demo: type: \"component\"\ntemplate: 5\n",
			errs: []wantProblem{{TemplateFile, 2, 11, "template must be a struct"}},
		},
		{
			name: "parameter not a struct",
			src:  "demo: type: \"component\"\ntemplate: {\n\toutput: {}\n\tparameter: 5\n}\n",
			errs: []wantProblem{{TemplateFile, 4, 2, "template.parameter must be a struct"}},
		},
		{
			name: "header type unknown",
			src:  "demo: type: \"workflow-step\"\n" + body,
			errs: []wantProblem{{TemplateFile, 1, 1, `type "workflow-step": want component, trait or policy`}},
		},
		{
			name: "header not concrete",
			src:  "demo: {\n\ttype: \"component\"\n\tdescription: string\n}\n" + body,
			errs: []wantProblem{{TemplateFile, 3, 15, "demo.description: incomplete value string"}},
		},
		{
			name: "trait without patch or outputs",
			src:  "demo: type: \"trait\"\ntemplate: parameter: {}\n",
			errs: []wantProblem{{TemplateFile, 0, 0, "trait template has neither patch nor outputs"}},
		},
		{
			name: "unknown import",
			src:  "import \"example.com/nosuch\"\n\ndemo: type: \"component\"\n" + body,
			errs: []wantProblem{{TemplateFile, 1, 8, `imported and not used: "example.com/nosuch"`}},
		},
		{
			name: "unknown import in use",
			src:  "import \"example.com/nosuch\"\n\ndemo: type: \"component\"\n" + strings.Replace(body, "{}", "nosuch.#Params", 1),
			errs: []wantProblem{
				{TemplateFile, 1, 8, `package "example.com/nosuch" imported but not defined`},
				{TemplateFile, 6, 13, `parameter: import "example.com/nosuch" not found`},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := ParseDefinition(TemplateFile, []byte(tt.src))
			if tt.want == nil {
				checkProblems(t, err, tt.errs...)
				return
			}
			if err != nil {
				t.Fatalf("ParseDefinition: %v", err)
			}
			got := &Definition{Name: d.Name, Type: d.Type, Description: d.Description, Labels: d.Labels, Annotations: d.Annotations, Attributes: d.Attributes}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("header = %#v\nwant %#v", got, tt.want)
			}
			if !strings.Contains(d.Template, "parameter:") {
				t.Errorf("Template = %q", d.Template)
			}
		})
	}
}

func jsonNumber(s string) any { return json.Number(s) }
