package install

import (
	"context"
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/capcenter/capcenter/capabilities"
)

// An Item is one capability of a plan: verified, unpacked and pinned to the
// digest it was verified at.
type Item struct {
	Name, Version, Digest string
	// Dependencies are the names of the capabilities it needs; each must
	// come earlier in the plan or be installed already.
	Dependencies []string
	Bundle       *capabilities.Bundle
}

// Options modify an Install.
type Options struct {
	// DryRun applies with server-side dry run: the server validates,
	// defaults and admits every object, and persists nothing; no record is
	// written and no namespace created. Objects whose
	// CustomResourceDefinition or namespace the plan itself would create
	// cannot be checked this way and are reported as Deferred.
	DryRun bool
	// Repair applies items even when their record says this very digest
	// is installed, taking back any field that drifted (e.g. by kubectl
	// edit). Without it such items are skipped.
	Repair bool
}

// A Result says what Install did, item by item in plan order.
type Result struct {
	DryRun bool
	Items  []ItemResult
}

// An ItemResult says what Install did with one item.
type ItemResult struct {
	Name, Version, Digest string
	// Skipped is true when the record showed this digest installed, so
	// nothing was applied.
	Skipped bool
	// Applied lists the objects applied, in order.
	Applied []ObjectRef
	// Deferred lists, for a dry run, the objects the server could not
	// check because the plan creates their kind or namespace.
	Deferred []ObjectRef
	// Pruned lists the objects an earlier version applied that this one
	// dropped, deleted after this version was applied (for a dry run:
	// those that would be).
	Pruned   []ObjectRef
	Started  time.Time
	Duration time.Duration
}

// itemPlan is an item ready to apply: its targets mapped and ordered.
type itemPlan struct {
	item    *Item
	targets []*target
}

// Install applies items, in the order given (dependencies first, as
// client.Resolve plans them). For each item whose record does not already
// show its digest installed, it applies the CustomResourceDefinitions and
// waits until each is Established, then namespaces, then service accounts
// and RBAC, then every other manifest, then the OAM definition object, all
// with server-side apply, recording progress in the item's record. When
// the item's record lists objects this version no longer has (an upgrade
// or downgrade, compared by group, kind, namespace and name), Install then
// deletes those that still carry the capability's label, in reverse tier
// order, and only then records the item installed; see
// ItemResult.Pruned. Objects another capability or a person took over
// (relabeled) are left alone.
//
// Before it applies anything, Install fails
//   - wrapping ErrInvalid when an item has no bundle, a bundle that is not
//     the item's, or a dependency neither earlier nor installed;
//   - wrapping ErrIncompatible when the server's version is outside an
//     item's requires.kubernetes range;
//   - wrapping ErrUnknownKind when a manifest's kind is neither served nor
//     defined by the plan;
//   - wrapping ErrForbidden, listing every object refused, when the caller
//     may not create and patch an object.
//
// Once it applies, the first failure stops it: the item's record is left
// "failed at <object>" (the next Install resumes it) and the error names
// the capability and object and wraps the API server's error, or
// ErrNotEstablished, or ctx's error. A failed prune leaves the record
// "failed at prune", still listing what is left to prune in Record.Prune,
// so the next Install finishes it. The Result then holds the items done
// so far. Install does not check beforehand that the caller may delete
// what it prunes.
func (in *Installer) Install(ctx context.Context, items []Item, opts Options) (*Result, error) {
	records, err := in.records(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkItems(items, records); err != nil {
		return nil, err
	}
	todo := map[int]bool{}
	var pending []*Item
	for i := range items {
		r, ok := records[items[i].Name]
		if opts.Repair || !ok || !r.Installed() || r.Digest != items[i].Digest {
			todo[i] = true
			pending = append(pending, &items[i])
		}
	}
	res := &Result{DryRun: opts.DryRun}
	if len(pending) == 0 {
		return res.skipping(items, todo), nil
	}
	server, err := in.ServerVersion(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkKubernetes(server, pending); err != nil {
		return nil, err
	}
	plans, planned, err := in.plan(items, pending)
	if err != nil {
		return nil, err
	}
	if err := in.checkAccess(ctx, in.accesses(plans, opts.DryRun)); err != nil {
		return nil, err
	}
	next := 0
	for i := range items {
		if !todo[i] {
			res.Items = append(res.Items, skipped(&items[i]))
			continue
		}
		var old *Record
		if r, ok := records[items[i].Name]; ok {
			old = &r
		}
		ir, err := in.installItem(ctx, plans[next], planned, old, opts.DryRun)
		next++
		res.Items = append(res.Items, ir)
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

func (r *Result) skipping(items []Item, todo map[int]bool) *Result {
	for i := range items {
		if !todo[i] {
			r.Items = append(r.Items, skipped(&items[i]))
		}
	}
	return r
}

func skipped(it *Item) ItemResult {
	return ItemResult{Name: it.Name, Version: it.Version, Digest: it.Digest, Skipped: true, Started: time.Now()}
}

// checkItems fails wrapping ErrInvalid on the first item that cannot be
// installed as given.
func checkItems(items []Item, records map[string]Record) error {
	seen := map[string]bool{}
	for _, it := range items {
		switch {
		case it.Bundle == nil:
			return fmt.Errorf("%s: no bundle: %w", it.Name, ErrInvalid)
		case it.Bundle.Metadata.Name != it.Name || it.Bundle.Metadata.Version != it.Version:
			return fmt.Errorf("%s@%s: bundle is %s@%s: %w", it.Name, it.Version,
				it.Bundle.Metadata.Name, it.Bundle.Metadata.Version, ErrInvalid)
		case it.Digest == "":
			return fmt.Errorf("%s: no digest: %w", it.Name, ErrInvalid)
		}
		for _, d := range it.Dependencies {
			if r, ok := records[d]; !seen[d] && (!ok || !r.Installed()) {
				return fmt.Errorf("%s: dependency %s is neither earlier in the plan nor installed: %w", it.Name, d, ErrInvalid)
			}
		}
		seen[it.Name] = true
	}
	return nil
}

// plan maps and orders the objects of the pending items. The kinds the
// plan's CRDs define come from all items, and the namespaces the plan
// creates are returned too, so that a dry run can tell what it cannot
// check.
func (in *Installer) plan(items []Item, pending []*Item) ([]*itemPlan, map[string]bool, error) {
	in.mapper.Reset() // see the CRDs installed since the last Install
	m := &kindMapper{planned: map[schema.GroupVersionKind]resourceInfo{}, server: in.mapper}
	namespaces := map[string]bool{in.cfg.DefinitionNamespace: true}
	objs := make(map[*Item][]*unstructured.Unstructured, len(items))
	for i := range items {
		o, err := objects(&items[i], in.cfg.DefinitionNamespace)
		if err != nil {
			return nil, nil, err
		}
		for _, u := range o {
			m.addCRD(u)
			if tierOf(u.GroupVersionKind()) == tierNamespace {
				namespaces[u.GetName()] = true
			}
		}
		objs[&items[i]] = o
	}
	var plans []*itemPlan
	for _, it := range pending {
		p := &itemPlan{item: it}
		for _, u := range objs[it] {
			t, err := in.target(m, it, u)
			if err != nil {
				return nil, nil, err
			}
			p.targets = append(p.targets, t)
		}
		sortTargets(p.targets)
		plans = append(plans, p)
	}
	return plans, namespaces, nil
}

// target maps u, sets or clears its namespace by its scope, and stamps it.
func (in *Installer) target(m *kindMapper, it *Item, u *unstructured.Unstructured) (*target, error) {
	gvk := u.GroupVersionKind()
	ri, err := m.resource(gvk)
	if err != nil {
		return nil, fmt.Errorf("%s: %s %s: %w", it.Name, gvk.Kind, u.GetName(), err)
	}
	switch {
	case !ri.namespaced:
		u.SetNamespace("")
	case u.GetNamespace() == "":
		u.SetNamespace(in.cfg.Namespace)
	}
	stamp(u, it)
	return &target{obj: u, gvr: ri.gvr, namespaced: ri.namespaced, tier: tierOf(gvk), crd: ri.crd}, nil
}

// accesses lists what the plans need permission for: every object, and
// each record unless this is a dry run.
func (in *Installer) accesses(plans []*itemPlan, dryRun bool) []access {
	var out []access
	for _, p := range plans {
		for _, t := range p.targets {
			out = append(out, access{gvr: t.gvr, namespace: t.obj.GetNamespace(), name: t.obj.GetName(), ref: t.ref().String()})
		}
		if !dryRun {
			name := RecordName(p.item.Name)
			out = append(out, access{gvr: configMapGVR, namespace: in.cfg.RecordNamespace, name: name,
				ref: "ConfigMap " + in.cfg.RecordNamespace + "/" + name + " (install record)"})
		}
	}
	return out
}

// installItem applies one item tier by tier, keeping its record current,
// then prunes what old, the item's previous record if any, lists and the
// item no longer has.
func (in *Installer) installItem(ctx context.Context, p *itemPlan, planned map[string]bool, old *Record, dryRun bool) (ir ItemResult, _ error) {
	it := p.item
	ir = ItemResult{Name: it.Name, Version: it.Version, Digest: it.Digest, Started: time.Now()}
	defer func() { ir.Duration = time.Since(ir.Started) }()
	rec := &Record{Name: it.Name, Version: it.Version, Digest: it.Digest, Kind: string(it.Bundle.Metadata.Kind),
		Dependencies: slices.Clone(it.Dependencies), State: StateInstalling}
	for _, t := range p.targets {
		rec.Objects = append(rec.Objects, t.ref())
	}
	if old != nil {
		rec.Prune = without(append(slices.Clone(old.Objects), old.Prune...), rec.Objects)
	}
	log := in.cfg.Logger.With("capability", it.Name, "version", it.Version, "dryRun", dryRun)
	log.Info("installing", "objects", len(p.targets))
	if !dryRun {
		if err := in.prepare(ctx, p, rec); err != nil {
			return ir, err
		}
	}
	for i, t := range p.targets {
		err := in.apply(ctx, t, dryRun)
		switch {
		case err != nil && dryRun && apierrors.IsNotFound(err) && (t.crd != "" || planned[t.obj.GetNamespace()]):
			ir.Deferred = append(ir.Deferred, t.ref())
			log.Debug("deferred", "object", t.ref().String(), "reason", err)
			continue
		case err != nil:
			return ir, in.fail(ctx, rec, t, fmt.Errorf("%s: apply %s: %w", it.Name, t.ref(), err), dryRun)
		}
		ir.Applied = append(ir.Applied, t.ref())
		log.Debug("applied", "object", t.ref().String())
		if last := i+1 == len(p.targets) || p.targets[i+1].tier != tierCRD; t.tier == tierCRD && last && !dryRun {
			if err := in.waitCRDs(ctx, p.targets[:i+1]); err != nil {
				return ir, in.fail(ctx, rec, t, fmt.Errorf("%s: %w", it.Name, err), dryRun)
			}
		}
	}
	if err := in.prune(ctx, rec, &ir, dryRun); err != nil {
		return ir, in.fail(ctx, rec, nil, err, dryRun)
	}
	if dryRun {
		return ir, nil
	}
	rec.State = StateInstalled
	if err := in.writeRecord(ctx, rec); err != nil {
		return ir, err
	}
	log.Info("installed", "objects", len(ir.Applied))
	return ir, nil
}

// prepare creates the namespaces the item needs and records it as
// installing.
func (in *Installer) prepare(ctx context.Context, p *itemPlan, rec *Record) error {
	if err := in.ensureNamespace(ctx, in.cfg.RecordNamespace); err != nil {
		return err
	}
	for _, t := range p.targets {
		if t.tier == tierDefinition {
			if err := in.ensureNamespace(ctx, in.cfg.DefinitionNamespace); err != nil {
				return err
			}
		}
	}
	return in.writeRecord(ctx, rec)
}

// fail records that applying t failed with cause and returns cause. The
// record is written even when ctx has ended, within a short bound, so the
// next Install knows to resume.
// A nil t means the failure came after every object was applied, while
// pruning. A dry run records nothing.
func (in *Installer) fail(ctx context.Context, rec *Record, t *target, cause error, dryRun bool) error {
	if dryRun {
		return cause
	}
	rec.State = StateFailedPrefix + "prune"
	if t != nil {
		rec.State = StateFailedPrefix + t.ref().String()
	}
	rec.Error = cause.Error()
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := in.writeRecord(wctx, rec); err != nil {
		in.cfg.Logger.Error("cannot record failure", "capability", rec.Name, "error", err)
	}
	return cause
}
