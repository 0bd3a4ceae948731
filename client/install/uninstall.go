package install

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// UninstallOptions modify an Uninstall.
type UninstallOptions struct {
	// Cascade also removes every installed capability that depends,
	// directly or not, on one being removed, dependents first. Without
	// it Uninstall refuses while such dependents remain.
	Cascade bool
	// DryRun deletes with server-side dry run: the server checks every
	// delete, and nothing is removed, records included.
	DryRun bool
}

// An UninstallResult says what Uninstall did, capability by capability in
// the order they were removed.
type UninstallResult struct {
	DryRun bool
	Items  []UninstalledItem
}

// An UninstalledItem says what Uninstall did with one capability.
type UninstalledItem struct {
	Name, Version string
	// Deleted lists the objects deleted, in order.
	Deleted []ObjectRef
	// Kept lists the recorded objects left alone: gone already, or
	// labeled for another capability now.
	Kept     []ObjectRef
	Duration time.Duration
}

// Uninstall removes the capabilities names from the cluster: for each, it
// deletes the objects its record lists, in reverse tier order (the OAM
// definition object first, then ordinary manifests, then service accounts,
// RBAC and namespaces, CustomResourceDefinitions last), then its record.
// Only objects that still carry the capability's label are deleted;
// others (taken over by another capability or a person) are kept. With
// opts.Cascade, the installed capabilities that depend on names are
// removed too, each before the capabilities it depends on.
//
// Deletes are requested, not awaited: namespaces and
// CustomResourceDefinitions go away once their finalizers ran.
//
// Before it deletes anything, Uninstall fails
//   - wrapping ErrNotInstalled, naming every name that has no record;
//   - wrapping ErrHasDependents, naming every capability being removed and
//     the installed capabilities, not being removed, that depend on it.
//
// Once it deletes, the first failure stops it with the API server's error,
// naming the capability and object. That capability's record is kept, so
// that running Uninstall again finishes the job (objects gone already are
// skipped). The UninstallResult then holds what was done so far.
func (in *Installer) Uninstall(ctx context.Context, names []string, opts UninstallOptions) (*UninstallResult, error) {
	records, err := in.records(ctx)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, n := range names {
		if _, ok := records[n]; !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: %w", strings.Join(missing, ", "), ErrNotInstalled)
	}
	removing := map[string]bool{}
	for _, n := range names {
		removing[n] = true
	}
	if opts.Cascade {
		addDependents(records, removing)
	}
	if err := checkDependents(records, removing); err != nil {
		return nil, err
	}
	res := &UninstallResult{DryRun: opts.DryRun}
	for _, n := range removalOrder(records, removing) {
		r := records[n]
		ui, err := in.uninstallOne(ctx, &r, opts.DryRun)
		res.Items = append(res.Items, ui)
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// addDependents adds to removing every record that depends on one in it,
// until none is left to add.
func addDependents(records map[string]Record, removing map[string]bool) {
	for added := true; added; {
		added = false
		for n, r := range records {
			if !removing[n] && slices.ContainsFunc(r.Dependencies, func(d string) bool { return removing[d] }) {
				removing[n], added = true, true
			}
		}
	}
}

// checkDependents fails wrapping ErrHasDependents when a record not being
// removed depends on one that is, naming each such pair.
func checkDependents(records map[string]Record, removing map[string]bool) error {
	var msgs []string
	for _, n := range slices.Sorted(maps.Keys(records)) {
		if removing[n] {
			continue
		}
		for _, d := range records[n].Dependencies {
			if removing[d] {
				msgs = append(msgs, d+" is needed by "+n)
			}
		}
	}
	if len(msgs) > 0 {
		return fmt.Errorf("%s (uninstall them too, or use cascade): %w", strings.Join(msgs, "; "), ErrHasDependents)
	}
	return nil
}

// removalOrder orders removing so that each capability comes before those
// it depends on; ties go by name.
func removalOrder(records map[string]Record, removing map[string]bool) []string {
	var order []string
	done := map[string]bool{}
	var visit func(n string)
	visit = func(n string) { // appends n after its dependencies
		if done[n] || !removing[n] {
			return
		}
		done[n] = true
		for _, d := range records[n].Dependencies {
			visit(d)
		}
		order = append(order, n)
	}
	for _, n := range slices.Sorted(maps.Keys(removing)) {
		visit(n)
	}
	slices.Reverse(order)
	return order
}

// uninstallOne deletes r's objects in reverse tier order, then r.
func (in *Installer) uninstallOne(ctx context.Context, r *Record, dryRun bool) (ui UninstalledItem, _ error) {
	start := time.Now()
	ui = UninstalledItem{Name: r.Name, Version: r.Version}
	defer func() { ui.Duration = time.Since(start) }()
	log := in.cfg.Logger.With("capability", r.Name, "version", r.Version, "dryRun", dryRun)
	log.Info("uninstalling", "objects", len(r.Objects)+len(r.Prune))
	for _, ref := range reverseTiers(without(append(slices.Clone(r.Objects), r.Prune...), nil)) {
		deleted, err := in.deleteOwned(ctx, ref, r.Name, dryRun)
		if err != nil {
			return ui, fmt.Errorf("%s: uninstall: %w", r.Name, err)
		}
		if deleted {
			ui.Deleted = append(ui.Deleted, ref)
			log.Debug("deleted", "object", ref.String())
		} else {
			ui.Kept = append(ui.Kept, ref)
			log.Debug("kept", "object", ref.String())
		}
	}
	if err := in.deleteRecord(ctx, r.Name, dryRun); err != nil {
		return ui, err
	}
	log.Info("uninstalled", "deleted", len(ui.Deleted), "kept", len(ui.Kept))
	return ui, nil
}

// deleteRecord deletes capability name's record; one gone already is fine.
func (in *Installer) deleteRecord(ctx context.Context, name string, dryRun bool) error {
	var opts metav1.DeleteOptions
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	err := in.kube.CoreV1().ConfigMaps(in.cfg.RecordNamespace).Delete(ctx, RecordName(name), opts)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("%s: delete install record: %w", name, err)
	}
	return nil
}
