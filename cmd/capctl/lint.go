package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/capcenter/capcenter/capabilities"
)

type lintOptions struct {
	output    string
	recursive bool
}

// lintResult is one bundle's verdict, as -o json prints it.
type lintResult struct {
	Path     string   `json:"path"`
	Name     string   `json:"name,omitempty"`
	Version  string   `json:"version,omitempty"`
	Kind     string   `json:"kind,omitempty"`
	OK       bool     `json:"ok"`
	Problems []string `json:"problems,omitempty"`
}

func newLintCmd(s streams) *cobra.Command {
	o := &lintOptions{}
	cmd := &cobra.Command{
		Use:   "lint DIR...",
		Short: "Check bundle folders: metadata, template, manifests and examples",
		Long: `Lint loads each bundle folder and reports every problem at once, each with
its file and, where there is one, line:column. Every example is rendered.
It exits non-zero when any bundle has a problem.`,
		Example: "  capctl lint ./webservice\n  capctl lint -R capabilities/builtin",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), s, args)
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", formatTable, "output format: table or json")
	cmd.Flags().BoolVarP(&o.recursive, "recursive", "R", false, "lint every folder below DIR that holds a capability.yaml")
	return cmd
}

func (o *lintOptions) run(ctx context.Context, s streams, dirs []string) error {
	if err := checkFormat(o.output, formatTable, formatJSON); err != nil {
		return err
	}
	if o.recursive {
		var err error
		if dirs, err = findBundles(dirs); err != nil {
			return err
		}
	}
	results := make([]lintResult, 0, len(dirs))
	failed := 0
	for _, dir := range dirs {
		r := lintResult{Path: dir}
		b, err := capabilities.Load(ctx, dir, capabilities.Limits{})
		if err != nil {
			failed++
			for _, p := range capabilities.Problems(bundleError(dir, err)) {
				r.Problems = append(r.Problems, p.String())
			}
		} else {
			r.OK = true
			r.Name, r.Version, r.Kind = b.Metadata.Name, b.Metadata.Version, string(b.Metadata.Kind)
		}
		results = append(results, r)
	}
	if err := o.print(s, results); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d bundles have problems", failed, len(dirs))
	}
	return nil
}

func (o *lintOptions) print(s streams, results []lintResult) error {
	if o.output == formatJSON {
		return writeJSON(s.out, results)
	}
	for _, r := range results {
		if r.OK {
			fmt.Fprintf(s.out, "ok    %s: %s %s (%s)\n", r.Path, r.Name, r.Version, r.Kind)
			continue
		}
		fmt.Fprintf(s.out, "FAIL  %s: %d problem(s)\n", r.Path, len(r.Problems))
		for _, p := range r.Problems {
			fmt.Fprintf(s.out, "      %s\n", p)
		}
	}
	return nil
}

// findBundles returns every folder below roots that holds a capability.yaml,
// in lexical order. A bundle's own subfolders are not searched.
func findBundles(roots []string) ([]string, error) {
	var dirs []string
	for _, root := range roots {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return err
			}
			if _, err := os.Lstat(filepath.Join(path, capabilities.MetadataFile)); err == nil {
				dirs = append(dirs, path)
				return filepath.SkipDir
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("no folder with a %s below %s", capabilities.MetadataFile, strings.Join(roots, ", "))
	}
	return dirs, nil
}
