package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/client"
)

type renderOptions struct {
	global         *globalOptions
	valueFiles     []string
	sets           []string
	setStrings     []string
	example        string
	workload       string
	context        capabilities.Context
	clusterVersion string
	output         string
}

func newRenderCmd(s streams, g *globalOptions) *cobra.Command {
	o := &renderOptions{global: g}
	cmd := &cobra.Command{
		Use:   "render DIR | NAME[@VERSION]",
		Short: "Render a bundle's template to Kubernetes objects",
		Long: `Render evaluates the bundle's CUE template with parameters and a context and
prints the objects it produces: a component's output and outputs, or for a
trait the workload with the trait's patch applied, then the trait's outputs.

Parameters come from -f files (later ones win), then --set and --set-string,
in that order; --example starts from one of the bundle's examples. A trait
is rendered against --workload (a YAML file with one object) or, without it,
a sample Deployment named after the component.

When the argument is not a folder it names a version in the registry
(NAME[@VERSION], the latest one when no version is given), which the
registry renders with the same flags; --example then pulls the bundle to
read the example.`,
		Example: `  capctl render ./webservice -f values.yaml --set replicas=3
  capctl render capabilities/builtin/scaler --example basic --workload deploy.yaml
  capctl render webservice@1.0.0 --set image=nginx:1.27`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), s, args[0])
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.valueFiles, "values", "f", nil, "parameters from a YAML or JSON `file` (repeatable)")
	f.StringArrayVar(&o.sets, "set", nil, "set a parameter, `path=value` (a.b, ports[0].port), the value read as YAML (repeatable)")
	f.StringArrayVar(&o.setStrings, "set-string", nil, "set a parameter to a string, `path=value` (repeatable)")
	f.StringVar(&o.example, "example", "", "start from the bundle's example `name`")
	f.StringVar(&o.workload, "workload", "", "traits: the workload object to patch, a YAML `file`")
	f.StringVar(&o.context.Name, "name", "", "context.name: the component name (default: the capability name)")
	f.StringVarP(&o.context.Namespace, "namespace", "n", "", "context.namespace (default \"default\")")
	f.StringVar(&o.context.AppName, "app", "", "context.appName (default: the component name)")
	f.StringVar(&o.context.AppRevision, "app-revision", "", "context.appRevision (default <app>-v1)")
	f.StringVar(&o.clusterVersion, "cluster-version", "", "context.clusterVersion, e.g. 1.35 or v1.35.4 (default 1.35)")
	f.StringVarP(&o.output, "output", "o", formatYAML, "output format: yaml or json")
	return cmd
}

func (o *renderOptions) run(ctx context.Context, s streams, arg string) error {
	if err := checkFormat(o.output, formatYAML, formatJSON); err != nil {
		return err
	}
	if info, err := os.Stat(arg); err == nil && info.IsDir() {
		return o.runLocal(ctx, s, arg)
	}
	name, version, err := client.ParseRef(arg)
	if err != nil {
		return fmt.Errorf("%s is neither a bundle folder nor a capability NAME[@VERSION]: %w", arg, err)
	}
	return o.runRemote(ctx, s, name, version)
}

// runLocal renders the bundle folder dir.
func (o *renderOptions) runLocal(ctx context.Context, s streams, dir string) error {
	b, err := capabilities.Load(ctx, dir, capabilities.Limits{})
	if err != nil {
		return bundleError(dir, err)
	}
	opts, err := o.renderOptions(b.Example)
	if err != nil {
		return err
	}
	r, err := b.Render(ctx, opts)
	if err != nil {
		return bundleError(dir, err)
	}
	return o.write(s, r.Objects())
}

// runRemote renders a version on the registry. With --example it pulls the
// bundle first to read the example.
func (o *renderOptions) runRemote(ctx context.Context, s streams, name, version string) error {
	c, err := o.global.dial(s)
	if err != nil {
		return err
	}
	defer c.Close()
	example := func(string) (map[string]any, error) {
		p, err := c.Pull(ctx, name, version, capabilities.Limits{})
		if err != nil {
			return nil, err
		}
		return p.Bundle.Example(o.example)
	}
	opts, err := o.renderOptions(example)
	if err != nil {
		return err
	}
	rendered, err := c.Render(ctx, name, version, opts)
	if err != nil {
		return err
	}
	objs := make([]capabilities.Object, len(rendered))
	for i, r := range rendered {
		objs[i] = r.Object
	}
	return o.write(s, objs)
}

// renderOptions gathers the parameters, context and workload the flags
// give; example looks up --example.
func (o *renderOptions) renderOptions(example func(string) (map[string]any, error)) (capabilities.RenderOptions, error) {
	params, err := o.parameters(example)
	if err != nil {
		return capabilities.RenderOptions{}, err
	}
	opts := capabilities.RenderOptions{Parameters: params, Context: o.context}
	if opts.Context.ClusterVersion, err = parseClusterVersion(o.clusterVersion); err != nil {
		return capabilities.RenderOptions{}, err
	}
	if o.workload != "" {
		if opts.Workload, err = readObject(o.workload); err != nil {
			return capabilities.RenderOptions{}, err
		}
	}
	return opts, nil
}

// write prints rendered objects as a YAML stream or a JSON List.
func (o *renderOptions) write(s streams, objs []capabilities.Object) error {
	if o.output == formatJSON {
		items := make([]any, len(objs))
		for i, obj := range objs {
			items[i] = obj
		}
		return writeJSON(s.out, map[string]any{"apiVersion": "v1", "kind": "List", "items": items})
	}
	return writeYAMLStream(s.out, objs)
}

// parameters merges, in order, the example, the -f files and the --set
// expressions.
func (o *renderOptions) parameters(example func(string) (map[string]any, error)) (map[string]any, error) {
	params := map[string]any{}
	if o.example != "" {
		ex, err := example(o.example)
		if err != nil {
			return nil, err
		}
		mergeInto(params, ex)
	}
	for _, file := range o.valueFiles {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		values, err := capabilities.ParseParameters(file, data)
		if err != nil {
			return nil, err
		}
		mergeInto(params, values)
	}
	for _, expr := range o.sets {
		if err := capabilities.SetParameter(params, expr, false); err != nil {
			return nil, err
		}
	}
	for _, expr := range o.setStrings {
		if err := capabilities.SetParameter(params, expr, true); err != nil {
			return nil, err
		}
	}
	return params, nil
}

// mergeInto deep-merges src into dst: mappings merge, anything else in src
// replaces what dst has.
func mergeInto(dst, src map[string]any) {
	for k, v := range src {
		sm, ok := v.(map[string]any)
		dm, ok2 := dst[k].(map[string]any)
		if ok && ok2 {
			mergeInto(dm, sm)
			continue
		}
		dst[k] = v
	}
}

// parseClusterVersion reads "1.35", "v1.35" or "v1.35.4".
func parseClusterVersion(s string) (capabilities.ClusterVersion, error) {
	if s == "" {
		return capabilities.ClusterVersion{}, nil
	}
	parts := strings.SplitN(strings.TrimPrefix(s, "v"), ".", 3)
	if len(parts) < 2 {
		return capabilities.ClusterVersion{}, fmt.Errorf("--cluster-version %q: want MAJOR.MINOR, e.g. 1.35", s)
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return capabilities.ClusterVersion{}, fmt.Errorf("--cluster-version %q: want MAJOR.MINOR, e.g. 1.35", s)
	}
	git := "v" + strings.TrimPrefix(s, "v")
	if len(parts) == 2 {
		git += ".0"
	}
	return capabilities.ClusterVersion{Major: major, Minor: minor, GitVersion: git}, nil
}

// readObject reads a YAML file holding one Kubernetes object.
func readObject(file string) (capabilities.Object, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	objs, err := capabilities.ParseManifests(filepath.Base(file), data)
	if err != nil {
		return nil, err
	}
	if len(objs) != 1 {
		return nil, fmt.Errorf("%s: want one object, found %d", file, len(objs))
	}
	return objs[0], nil
}

// bundleError prefixes the files named in a bundle's problems with its
// folder, so that editors can jump to them.
func bundleError(dir string, err error) error {
	var ve *capabilities.ValidationError
	if !errors.As(err, &ve) {
		return fmt.Errorf("%s: %w", dir, err)
	}
	ps := make([]capabilities.Problem, len(ve.Problems))
	for i, p := range ve.Problems {
		if p.File != "" {
			p.File = filepath.Join(dir, p.File)
		}
		ps[i] = p
	}
	return &capabilities.ValidationError{Problems: ps}
}
