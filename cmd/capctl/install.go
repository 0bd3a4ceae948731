package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/capabilities/resolve"
	"github.com/capcenter/capcenter/client"
	"github.com/capcenter/capcenter/client/install"
)

// kubeOptions are the flags that choose a cluster, as kubectl's do.
type kubeOptions struct {
	kubeconfig string
	context    string
	namespace  string
}

func (k *kubeOptions) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&k.kubeconfig, "kubeconfig", "", "the kubeconfig `file` (default $KUBECONFIG, then ~/.kube/config)")
	cmd.Flags().StringVar(&k.context, "context", "", "the kubeconfig `context` to use")
	cmd.Flags().StringVarP(&k.namespace, "namespace", "n", "", "the `namespace` for namespaced manifests that name none (default: the context's)")
}

// installer connects to the cluster the flags choose.
func (k *kubeOptions) installer() (*install.Installer, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = k.kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: k.context}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	rest, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	ns := k.namespace
	if ns == "" {
		if ns, _, err = cc.Namespace(); err != nil {
			return nil, fmt.Errorf("kubeconfig: %w", err)
		}
	}
	return install.New(install.Config{REST: rest, FieldManager: "capctl", Namespace: ns})
}

func newUpgradeCmd(s streams, g *globalOptions) *cobra.Command {
	o := &installOptions{global: g, upgrade: true}
	cmd := &cobra.Command{
		Use:   "upgrade NAME[@RANGE]...",
		Short: "Move installed capabilities to newer versions, pruning what they dropped",
		Long: `Upgrade is install that lets the named capabilities leave their installed
versions: it resolves them afresh (newest fitting versions, dependencies
following as needed), pulls and verifies every new version, applies it, and
then deletes the objects the old version had and the new one does not
(only those still labeled as the capability's).`,
		Example: "  capctl upgrade rollout\n  capctl upgrade webservice@^2 --dry-run=server",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), s, args)
		},
	}
	o.kube.flags(cmd)
	cmd.Flags().StringVar(&o.dryRun, "dry-run", "none", `"server" to have the API server check every object and persist nothing`)
	return cmd
}

func newDiffCmd(s streams, g *globalOptions) *cobra.Command {
	o := &installOptions{global: g}
	var upgrade bool
	cmd := &cobra.Command{
		Use:   "diff NAME[@RANGE]...",
		Short: "Show what install (or upgrade) would change in the cluster",
		Long: `Diff resolves, pulls and verifies as install does, then has the API server
dry-run every object and compares the result with what is live: objects to
create, fields to update (paths only), objects unchanged, and objects an
upgrade would prune. It changes nothing.`,
		Example: "  capctl diff rollout\n  capctl diff rollout@^2 --upgrade",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.upgrade = upgrade
			in, items, err := o.planItems(cmd.Context(), s, args, true)
			if err != nil {
				return err
			}
			diffs, err := in.Diff(cmd.Context(), items)
			if err != nil {
				return err
			}
			t := newTable(s.out, "CAPABILITY", "ACTION", "OBJECT", "FIELDS")
			for _, d := range diffs {
				t.row(d.Capability, d.Action, d.Object.String(), strings.Join(d.Fields, " "))
			}
			return t.flush()
		},
	}
	o.kube.flags(cmd)
	cmd.Flags().BoolVar(&upgrade, "upgrade", false, "compare with the versions an upgrade would pick")
	return cmd
}

type uninstallOptions struct {
	kube    kubeOptions
	cascade bool
	dryRun  string
}

func newUninstallCmd(s streams) *cobra.Command {
	o := &uninstallOptions{}
	cmd := &cobra.Command{
		Use:   "uninstall NAME...",
		Short: "Remove installed capabilities, refusing while others depend on them",
		Long: `Uninstall deletes what capctl installed for the named capabilities, from
their install records: the definition object first, then the manifests,
RBAC and namespaces, CRDs last, and only objects still labeled as theirs.
It refuses while other installed capabilities depend on them, naming
those; --cascade removes the dependents too, dependents first.`,
		Example: "  capctl uninstall rollout\n  capctl uninstall rollout-controller --cascade",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dryRun, err := serverDryRun(o.dryRun)
			if err != nil {
				return err
			}
			in, err := o.kube.installer()
			if err != nil {
				return err
			}
			res, err := in.Uninstall(cmd.Context(), args, install.UninstallOptions{Cascade: o.cascade, DryRun: dryRun})
			if res != nil {
				verb := "removed"
				if res.DryRun {
					verb = "would be removed (dry run)"
				}
				for _, it := range res.Items {
					fmt.Fprintf(s.out, "%s: %s, %d objects deleted, %d left alone\n", client.Ref(it.Name, it.Version), verb, len(it.Deleted), len(it.Kept))
				}
			}
			return err
		},
	}
	o.kube.flags(cmd)
	cmd.Flags().BoolVar(&o.cascade, "cascade", false, "also remove the capabilities that depend on these, first")
	cmd.Flags().StringVar(&o.dryRun, "dry-run", "none", `"server" to have the API server check every delete and remove nothing`)
	return cmd
}

type installOptions struct {
	global *globalOptions
	kube   kubeOptions
	dryRun string
	repair bool
	// upgrade lets the named capabilities move off their installed versions.
	upgrade bool
}

func newInstallCmd(s streams, g *globalOptions) *cobra.Command {
	o := &installOptions{global: g}
	cmd := &cobra.Command{
		Use:   "install NAME[@RANGE]...",
		Short: "Resolve, pull, verify and apply capabilities to a cluster",
		Long: `Install resolves the capabilities and everything they depend on against the
cluster's Kubernetes version and what is already installed there, pulls each
version by the digest the plan pins, verifies its signatures against your
trust policy, and only then applies them in plan order with server-side
apply (field manager capctl): CustomResourceDefinitions first, waiting until
they are Established, then namespaces and RBAC, then the other manifests,
then the OAM definition object. Everything is checked before anything is
applied: versions, kinds and your permissions. An install record per
capability in capcenter-system makes a second install a no-op and lets a
failed one resume; --repair applies again to undo drift.`,
		Example: "  capctl install rollout\n  capctl install webservice@^1 gateway --context staging --dry-run=server",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), s, args)
		},
	}
	o.kube.flags(cmd)
	cmd.Flags().StringVar(&o.dryRun, "dry-run", "none", `"server" to have the API server check every object and persist nothing`)
	cmd.Flags().BoolVar(&o.repair, "repair", false, "apply again the capabilities already installed at the planned digest, taking back drifted fields")
	return cmd
}

func (o *installOptions) run(ctx context.Context, s streams, args []string) error {
	dryRun, err := serverDryRun(o.dryRun)
	if err != nil {
		return err
	}
	in, items, err := o.planItems(ctx, s, args, o.repair)
	if err != nil {
		return err
	}
	if len(items) == 0 {
		fmt.Fprintf(s.out, "Nothing to do: %s already installed.\n", strings.Join(args, ", "))
		return nil
	}
	res, err := in.Install(ctx, items, install.Options{DryRun: dryRun, Repair: o.repair})
	if res != nil {
		writeInstallResult(s, res)
	}
	return err
}

// planItems connects to the cluster, resolves args against its version
// and install records (upgrading the named capabilities when o.upgrade),
// and pulls and verifies each step the plan does not already have
// installed (every step with all), by the digest the plan pins.
func (o *installOptions) planItems(ctx context.Context, s streams, args []string, all bool) (*install.Installer, []install.Item, error) {
	req := resolve.Request{}
	for _, a := range args {
		r, err := parseRequirement(a)
		if err != nil {
			return nil, nil, err
		}
		req.Requirements = append(req.Requirements, r)
		if o.upgrade {
			req.Upgrade = append(req.Upgrade, r.Name)
		}
	}
	policy, err := o.global.policy()
	if err != nil {
		return nil, nil, err
	}
	in, err := o.kube.installer()
	if err != nil {
		return nil, nil, err
	}
	if req.Kubernetes, err = in.ServerVersion(ctx); err != nil {
		return nil, nil, err
	}
	records, err := in.List(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, r := range records {
		if r.Installed() {
			if req.Installed == nil {
				req.Installed = map[string]string{}
			}
			req.Installed[r.Name] = r.Version
		}
	}
	c, err := o.global.dial(s)
	if err != nil {
		return nil, nil, err
	}
	defer c.Close()
	plan, err := c.Resolve(ctx, req)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot resolve %s for Kubernetes %s:\n%w", strings.Join(args, " "), req.Kubernetes, err)
	}
	var steps []resolve.Step
	for _, st := range plan.Steps {
		if !st.Installed || all {
			steps = append(steps, st)
		}
	}
	// Pulls are independent: run a few at once, keep plan order.
	items := make([]install.Item, len(steps))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(maxParallelPulls)
	for i, st := range steps {
		g.Go(func() error {
			p, err := c.PullVerified(gctx, st.Name, st.Version, policy, capabilities.Limits{})
			if err != nil {
				return err
			}
			if p.Manifest.Digest.String() != st.Digest {
				return fmt.Errorf("%s: %w: the plan pins %s, the verified pull got %s", client.Ref(st.Name, st.Version), client.ErrDigestMismatch, st.Digest, p.Manifest.Digest)
			}
			items[i] = install.Item{Name: st.Name, Version: st.Version, Digest: st.Digest, Dependencies: st.Dependencies, Bundle: p.Bundle}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	return in, items, nil
}

// maxParallelPulls bounds the pulls install runs at once.
const maxParallelPulls = 4

func writeInstallResult(s streams, res *install.Result) {
	verb := "installed"
	if res.DryRun {
		verb = "checked (dry run)"
	}
	for _, it := range res.Items {
		switch {
		case it.Skipped:
			fmt.Fprintf(s.out, "%s: already installed at %s\n", client.Ref(it.Name, it.Version), shortDigest(it.Digest))
		default:
			fmt.Fprintf(s.out, "%s: %s, %d objects in %s\n", client.Ref(it.Name, it.Version), verb, len(it.Applied), it.Duration.Round(time.Millisecond))
			if len(it.Pruned) > 0 {
				fmt.Fprintf(s.out, "  pruned %d objects the previous version had: %s\n", len(it.Pruned), joinRefs(it.Pruned))
			}
			if len(it.Deferred) > 0 {
				fmt.Fprintf(s.out, "  %d objects depend on kinds or namespaces the plan creates and were not checked\n", len(it.Deferred))
			}
		}
	}
}

type listOptions struct {
	kube      kubeOptions
	installed bool
	output    string
}

func newListCmd(s streams) *cobra.Command {
	o := &listOptions{}
	cmd := &cobra.Command{
		Use:   "list --installed",
		Short: "List the capabilities installed in a cluster",
		Long: `List --installed reads the install records capctl keeps in the cluster
(namespace capcenter-system): each capability's version, digest, state and
dependencies.`,
		Example: "  capctl list --installed\n  capctl list --installed --context prod -o yaml",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), s)
		},
	}
	o.kube.flags(cmd)
	cmd.Flags().BoolVar(&o.installed, "installed", false, "list what is installed in the cluster")
	cmd.Flags().StringVarP(&o.output, "output", "o", formatTable, "output format: table, json or yaml")
	return cmd
}

func (o *listOptions) run(ctx context.Context, s streams) error {
	if !o.installed {
		return fmt.Errorf("say what to list: --installed (capctl search lists the registry's catalog)")
	}
	if err := checkFormat(o.output, formatTable, formatJSON, formatYAML); err != nil {
		return err
	}
	in, err := o.kube.installer()
	if err != nil {
		return err
	}
	records, err := in.List(ctx)
	if err != nil {
		return err
	}
	switch o.output {
	case formatJSON:
		return writeJSON(s.out, records)
	case formatYAML:
		return writeYAML(s.out, records)
	}
	t := newTable(s.out, "NAME", "VERSION", "DIGEST", "STATE", "OBJECTS", "NEEDS")
	for _, r := range records {
		needs := strings.Join(r.Dependencies, ", ")
		if needs == "" {
			needs = "-"
		}
		t.row(r.Name, r.Version, shortDigest(r.Digest), r.State, fmt.Sprint(len(r.Objects)), needs)
	}
	return t.flush()
}

func joinRefs(refs []install.ObjectRef) string {
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = r.String()
	}
	return strings.Join(out, ", ")
}

// serverDryRun reads a --dry-run value: "none" or "server", as kubectl's.
func serverDryRun(v string) (bool, error) {
	switch v {
	case "none":
		return false, nil
	case "server":
		return true, nil
	}
	return false, fmt.Errorf("--dry-run: %q: want none or server", v)
}
