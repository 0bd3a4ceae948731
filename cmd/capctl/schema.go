package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/capcenter/capcenter/capabilities"
)

type schemaOptions struct {
	output string
}

func newSchemaCmd(s streams) *cobra.Command {
	o := &schemaOptions{}
	cmd := &cobra.Command{
		Use:   "schema DIR",
		Short: "Print the JSON Schema of a bundle's parameters",
		Long: `Schema derives a JSON Schema from the template's parameter block: types,
defaults, enums, bounds, required parameters and the descriptions written in
"// +usage=" comments. -o table lists the parameters for people.`,
		Example: "  capctl schema ./webservice -o table",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), s, args[0])
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", formatJSON, "output format: json, yaml or table")
	return cmd
}

func (o *schemaOptions) run(ctx context.Context, s streams, dir string) error {
	if err := checkFormat(o.output, formatJSON, formatYAML, formatTable); err != nil {
		return err
	}
	b, err := capabilities.Load(ctx, dir, capabilities.Limits{})
	if err != nil {
		return bundleError(dir, err)
	}
	if b.Definition == nil {
		return fmt.Errorf("%s: a %s bundle has no parameters", dir, b.Metadata.Kind)
	}
	schema, err := b.Definition.ParameterSchema()
	if err != nil {
		return bundleError(dir, err)
	}
	switch o.output {
	case formatYAML:
		return writeYAML(s.out, schema)
	case formatTable:
		return writeParameterTable(s.out, schema)
	}
	return writeJSON(s.out, schema)
}

// parameterRow is one parameter, flattened to a dotted path.
type parameterRow struct {
	path, typ, def, description string
	required                    bool
}

// parameterRows flattens a schema's properties, nested ones as a.b and
// those of list elements as a[].b, in declaration order.
func parameterRows(prefix string, s *capabilities.Schema) []parameterRow {
	var rows []parameterRow
	for _, name := range s.PropertyNames() {
		p := s.Properties[name]
		path := prefix + name
		desc := p.Description
		if len(p.Enum) > 0 {
			vals := make([]string, len(p.Enum))
			for i, v := range p.Enum {
				vals[i] = jsonText(v)
			}
			desc = strings.TrimSpace(desc + " One of " + strings.Join(vals, ", ") + ".")
		}
		def := ""
		if p.Default != nil {
			def = jsonText(p.Default)
		}
		rows = append(rows, parameterRow{path, p.TypeString(), def, desc, slices.Contains(s.Required, name)})
		rows = append(rows, parameterRows(path+".", p)...)
		if p.Items != nil {
			rows = append(rows, parameterRows(path+"[].", p.Items)...)
		}
	}
	return rows
}

func writeParameterTable(w io.Writer, schema *capabilities.Schema) error {
	t := newTable(w, "PARAMETER", "TYPE", "REQUIRED", "DEFAULT", "DESCRIPTION")
	for _, r := range parameterRows("", schema) {
		req := "no"
		if r.required {
			req = "yes"
		}
		t.row(r.path, r.typ, req, r.def, r.description)
	}
	return t.flush()
}

func jsonText(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(data)
}
