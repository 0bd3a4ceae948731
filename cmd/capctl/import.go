package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/capcenter/capcenter/capabilities"
)

type importOptions struct {
	dir         string
	version     string
	namespace   string
	noOAMDepend bool
}

func newImportCmd(s streams) *cobra.Command {
	o := &importOptions{}
	cmd := &cobra.Command{
		Use:   "import FILE.cue",
		Short: "Turn a KubeVela definition file into a bundle",
		Long: `Import reads an X-Definition file as written for "vela def" and writes a
bundle folder around it: the file, unchanged, as template.cue; a
capability.yaml derived from its header (name, kind, description, the
workloads a trait applies to) with a dependency on oam-definitions; and a
README with the parameter table. The new bundle is linted before import
reports success.`,
		Example: "  capctl import my-trait.cue --version 1.2.0 --dir ./my-trait",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), s, args[0])
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dir, "dir", "", "the bundle `folder` to write (default ./<definition name>)")
	f.StringVar(&o.version, "version", "0.1.0", "the bundle version")
	f.StringVar(&o.namespace, "namespace", "", "publish under `namespace`/<name>")
	f.BoolVar(&o.noOAMDepend, "no-oam-dependency", false, "do not depend on oam-definitions (for clusters that run KubeVela)")
	return cmd
}

func (o *importOptions) run(ctx context.Context, s streams, file string) error {
	src, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	def, err := capabilities.ParseDefinition(filepath.Base(file), src)
	if err != nil {
		return bundleError(filepath.Dir(file), err)
	}
	b, err := o.bundle(def, src)
	if err != nil {
		return err
	}
	dir := o.dir
	if dir == "" {
		dir = def.Name
	}
	if err := ensureEmpty(dir); err != nil {
		return err
	}
	if err := capabilities.WriteDir(dir, b); err != nil {
		return err
	}
	if _, err := capabilities.Load(ctx, dir, capabilities.Limits{}); err != nil {
		return fmt.Errorf("imported into %s, but it does not lint: %w", dir, bundleError(dir, err))
	}
	fmt.Fprintf(s.out, "Imported %s %s (%s) into %s\n", b.Metadata.Name, b.Metadata.Version, b.Metadata.Kind, dir)
	return nil
}

// bundle derives a bundle from a definition and its source.
func (o *importOptions) bundle(def *capabilities.Definition, src []byte) (*capabilities.Bundle, error) {
	name := def.Name
	if o.namespace != "" {
		name = o.namespace + "/" + name
	}
	if err := capabilities.ValidateName(name); err != nil {
		return nil, fmt.Errorf("the definition's name cannot name a capability: %w", err)
	}
	m := capabilities.Metadata{
		Name:        name,
		Version:     o.version,
		Kind:        def.Type,
		Description: truncate(oneLine(def.Description), 1024),
		Keywords:    []string{string(def.Type)},
	}
	if def.Type == capabilities.KindTrait {
		m.AppliesTo = appliesTo(def)
	}
	if !o.noOAMDepend {
		m.Dependencies = []capabilities.Dependency{oamDependency}
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	schema, err := def.ParameterSchema()
	if err != nil {
		return nil, err
	}
	return &capabilities.Bundle{Metadata: m, Template: src, Readme: generateReadme(m, schema)}, nil
}

// appliesTo reads a trait header's attributes.appliesToWorkloads; a trait
// that does not say applies to any workload.
func appliesTo(def *capabilities.Definition) []string {
	raw, _ := def.Attributes["appliesToWorkloads"].([]any)
	var out []string
	for _, w := range raw {
		if s, ok := w.(string); ok && s != "" {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return []string{"*"}
	}
	return out
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
