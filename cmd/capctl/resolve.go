package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/spf13/cobra"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/capabilities/lockfile"
	"github.com/capcenter/capcenter/capabilities/resolve"
	"github.com/capcenter/capcenter/client"
)

type resolveOptions struct {
	global     *globalOptions
	installed  []string
	upgrade    []string
	kubernetes string
	lock       string
	output     string
}

func newResolveCmd(s streams, g *globalOptions) *cobra.Command {
	o := &resolveOptions{global: g}
	cmd := &cobra.Command{
		Use:   "resolve NAME[@RANGE]...",
		Short: "Pick versions of capabilities and their dependencies, or explain why none fit",
		Long: `Resolve asks the registry for versions of the named capabilities and of
everything they depend on such that every version range, every Kubernetes
requirement (with --kubernetes) and every installed version (--installed,
kept unless --upgrade names it) holds, preferring the newest versions that
are neither yanked nor prereleases. It prints the plan, dependencies first,
pinned to digests. When no set of versions works it exits non-zero with an
explanation of which constraints conflict and where each came from.

With --lock FILE it runs offline: the lock file's versions are the only
ones, and the requirements default to the file's, so it checks that the
lock still satisfies them.`,
		Example: "  capctl resolve webservice@^1 gateway\n" +
			"  capctl resolve rollout@'>=2.0.0 <3' --kubernetes 1.30.2 --installed rollout-controller@1.4.0\n" +
			"  capctl resolve --lock capcenter.lock",
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), s, args)
		},
	}
	o.flags(cmd)
	cmd.Flags().StringVar(&o.lock, "lock", "", "resolve offline against this lock `file`")
	cmd.Flags().StringVarP(&o.output, "output", "o", formatTable, "output format: table, json or yaml")
	return cmd
}

// flags declares the flags resolve and lock share.
func (o *resolveOptions) flags(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&o.installed, "installed", nil, "a `NAME@VERSION` the cluster already runs (repeatable)")
	cmd.Flags().StringArrayVar(&o.upgrade, "upgrade", nil, "an installed `NAME` that may change version, or * for all (repeatable)")
	cmd.Flags().StringVar(&o.kubernetes, "kubernetes", "", "the cluster's Kubernetes `version`, e.g. 1.30.2")
}

// request builds a resolution request from the arguments and flags.
func (o *resolveOptions) request(args []string) (resolve.Request, error) {
	req := resolve.Request{Kubernetes: o.kubernetes, Upgrade: o.upgrade}
	if o.kubernetes != "" {
		if _, err := semver.NewVersion(o.kubernetes); err != nil {
			return req, fmt.Errorf("--kubernetes: %q is not a version: %w", o.kubernetes, err)
		}
	}
	for _, a := range args {
		r, err := parseRequirement(a)
		if err != nil {
			return req, err
		}
		req.Requirements = append(req.Requirements, r)
	}
	for _, in := range o.installed {
		name, version, err := parseExactRef(in)
		if err != nil {
			return req, fmt.Errorf("--installed: %w", err)
		}
		if req.Installed == nil {
			req.Installed = map[string]string{}
		}
		if _, dup := req.Installed[name]; dup {
			return req, fmt.Errorf("--installed: %s is given twice", name)
		}
		req.Installed[name] = version
	}
	return req, nil
}

// parseRequirement reads NAME[@RANGE].
func parseRequirement(arg string) (resolve.Requirement, error) {
	name, rng, hasRange := strings.Cut(arg, "@")
	if err := capabilities.ValidateName(name); err != nil {
		return resolve.Requirement{}, fmt.Errorf("%q: %w", arg, err)
	}
	if hasRange {
		if _, err := semver.NewConstraint(rng); err != nil {
			return resolve.Requirement{}, fmt.Errorf("%q: %q is not a semver range: %w", arg, rng, err)
		}
	}
	return resolve.Requirement{Name: name, Range: rng}, nil
}

func (o *resolveOptions) run(ctx context.Context, s streams, args []string) error {
	if err := checkFormat(o.output, formatTable, formatJSON, formatYAML); err != nil {
		return err
	}
	req, err := o.request(args)
	if err != nil {
		return err
	}
	var plan *resolve.Plan
	if o.lock != "" {
		plan, err = resolveLocked(ctx, o.lock, req)
	} else {
		if len(req.Requirements) == 0 {
			return errors.New("name at least one capability, as NAME or NAME@RANGE")
		}
		var c *client.Client
		if c, err = o.global.dial(s); err != nil {
			return err
		}
		defer c.Close()
		plan, err = c.Resolve(ctx, req)
	}
	if errors.Is(err, resolve.ErrNoSolution) && o.lock == "" {
		return fmt.Errorf("cannot resolve %s:\n%w", strings.Join(args, " "), err)
	}
	if err != nil {
		return err
	}
	return writePlan(s, o.output, plan)
}

// resolveLocked resolves offline against a lock file; requirements, when
// req has none, and the Kubernetes version, when req has none, are the
// file's.
func resolveLocked(ctx context.Context, file string, req resolve.Request) (*resolve.Plan, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--lock: %w", err)
	}
	lock, err := lockfile.Parse(data, file)
	if err != nil {
		return nil, err
	}
	recorded := lock.Request()
	if len(req.Requirements) == 0 {
		req.Requirements = recorded.Requirements
	}
	if req.Kubernetes == "" {
		req.Kubernetes = recorded.Kubernetes
	}
	plan, err := resolve.Resolve(ctx, lock.Source(), req)
	if err != nil {
		return nil, fmt.Errorf("%s does not satisfy the requirements:\n%w", file, err)
	}
	return plan, nil
}

// writePlan prints a plan for people or as JSON or YAML.
func writePlan(s streams, format string, plan *resolve.Plan) error {
	type step struct {
		Name         string   `json:"name"`
		Version      string   `json:"version"`
		Digest       string   `json:"digest"`
		Installed    bool     `json:"installed,omitempty"`
		Dependencies []string `json:"dependencies,omitempty"`
	}
	if format != formatTable {
		steps := make([]step, len(plan.Steps))
		for i, st := range plan.Steps {
			steps[i] = step{st.Name, st.Version, st.Digest, st.Installed, st.Dependencies}
		}
		if format == formatYAML {
			return writeYAML(s.out, steps)
		}
		return writeJSON(s.out, steps)
	}
	t := newTable(s.out, "STEP", "NAME", "VERSION", "DIGEST", "ACTION", "NEEDS")
	for i, st := range plan.Steps {
		action := "install"
		if st.Installed {
			action = "keep (installed)"
		}
		needs := strings.Join(st.Dependencies, ", ")
		if needs == "" {
			needs = "-"
		}
		t.row(fmt.Sprint(i+1), st.Name, st.Version, shortDigest(st.Digest), action, needs)
	}
	return t.flush()
}
