package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/capcenter/capcenter/capabilities/lockfile"
)

type lockOptions struct {
	resolveOptions
	file string
}

func newLockCmd(s streams, g *globalOptions) *cobra.Command {
	o := &lockOptions{resolveOptions: resolveOptions{global: g}}
	cmd := &cobra.Command{
		Use:   "lock NAME[@RANGE]...",
		Short: "Resolve and write the plan, pinned to digests, to capcenter.lock",
		Long: `Lock resolves as capctl resolve does and writes the result to a lock file:
the requirements, the Kubernetes version, and every capability of the plan
(dependencies first) with its version, digest, Kubernetes range and own
dependencies, so that capctl resolve --lock can check it offline and
installs can pull exactly those digests.`,
		Example: "  capctl lock webservice@^1 gateway --kubernetes 1.30.2\n  capctl lock webservice --file ./platform.lock",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), s, args)
		},
	}
	o.flags(cmd)
	cmd.Flags().StringVarP(&o.file, "file", "f", lockfile.FileName, "the lock `file` to write")
	return cmd
}

func (o *lockOptions) run(ctx context.Context, s streams, args []string) error {
	req, err := o.request(args)
	if err != nil {
		return err
	}
	c, err := o.global.dial(s)
	if err != nil {
		return err
	}
	defer c.Close()
	plan, err := c.Resolve(ctx, req)
	if err != nil {
		return err
	}
	lock := &lockfile.File{LockVersion: lockfile.Version, Kubernetes: req.Kubernetes}
	for _, r := range req.Requirements {
		lock.Requirements = append(lock.Requirements, lockfile.Requirement{Name: r.Name, Range: r.Range})
	}
	for _, st := range plan.Steps {
		v, err := c.GetVersion(ctx, st.Name, st.Version)
		if err != nil {
			return err
		}
		if v.GetDigest() != st.Digest {
			return fmt.Errorf("%s@%s: the registry resolved digest %s but describes %s", st.Name, st.Version, st.Digest, v.GetDigest())
		}
		e := lockfile.Entry{Name: st.Name, Version: st.Version, Digest: st.Digest, Kubernetes: v.GetKubernetesRange()}
		for _, d := range v.GetDependencies() {
			e.Dependencies = append(e.Dependencies, lockfile.Dependency{Name: d.GetCapability(), Range: d.GetVersionRange()})
		}
		lock.Capabilities = append(lock.Capabilities, e)
	}
	data, err := lock.Marshal()
	if err != nil {
		return err
	}
	// What is written must read back: a lock that does not parse is worse
	// than none.
	if _, err := lockfile.Parse(data, o.file); err != nil {
		return errors.Join(errors.New("the lock capctl would write does not parse"), err)
	}
	if err := os.WriteFile(o.file, data, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "Locked %d capabilities into %s\n", len(lock.Capabilities), o.file)
	return writePlan(s, formatTable, plan)
}
