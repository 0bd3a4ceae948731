package main

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/capcenter/capcenter/capabilities"
)

// generateReadme writes a README for a bundle from its metadata and, when
// it has one, its parameter schema.
func generateReadme(m capabilities.Metadata, schema *capabilities.Schema) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n\n", m.Name)
	if m.Description != "" {
		fmt.Fprintf(&b, "%s\n\n", m.Description)
	}
	fmt.Fprintf(&b, "A %s capability.\n", m.Kind)
	if schema != nil {
		rows := parameterRows("", schema)
		b.WriteString("\n## Parameters\n\n")
		if len(rows) == 0 {
			b.WriteString("None.\n")
		} else {
			b.WriteString("| Name | Type | Required | Default | Description |\n|---|---|---|---|---|\n")
			for _, r := range rows {
				req := "no"
				if r.required {
					req = "yes"
				}
				fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", r.path, r.typ, req, code(r.def), escapeCell(r.description))
			}
		}
	}
	fmt.Fprintf(&b, "\n## Usage\n\n```sh\ncapctl lint .\ncapctl render . --set key=value\n```\n")
	return b.Bytes()
}

func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + s + "`"
}

func escapeCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
