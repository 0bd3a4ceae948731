// Package builtin holds the capability bundles capcenter ships: the common
// workload types (webservice, worker, task, cron-task, daemon), traits for
// them (scaler, hpa, expose, gateway, labels, annotations, env, storage,
// resource, rollout), the rollout-controller the rollout trait needs, and
// oam-definitions, the CRDs that let a cluster without KubeVela hold the
// definition objects every other bundle installs.
//
// Each bundle is a folder here, as an author would write it; they are
// embedded in the binaries so that capd can publish them on first start.
package builtin

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"slices"

	"github.com/capcenter/capcenter/capabilities"
)

//go:embed */capability.yaml */template.cue */README.md */examples */manifests
var bundles embed.FS

// FS returns the bundle folders, one per capability, at its root.
func FS() fs.FS { return bundles }

// Names returns the names of the built-in bundles, sorted.
func Names() []string {
	entries, _ := fs.ReadDir(bundles, ".") // an embed.FS root always reads
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names
}

// Load loads and validates every built-in bundle, in name order. It fails
// with the first bundle's error, which names the bundle: a failure here is a
// bug in this package, which its tests catch.
func Load(ctx context.Context, lim capabilities.Limits) ([]*capabilities.Bundle, error) {
	var out []*capabilities.Bundle
	for _, name := range Names() {
		sub, err := fs.Sub(bundles, name)
		if err != nil {
			return nil, fmt.Errorf("builtin %s: %w", name, err)
		}
		b, err := capabilities.LoadFS(ctx, sub, lim)
		if err != nil {
			return nil, fmt.Errorf("builtin %s: %w", name, err)
		}
		out = append(out, b)
	}
	return out, nil
}
