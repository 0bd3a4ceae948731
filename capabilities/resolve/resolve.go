package resolve

import (
	"context"
)

// Version is one version of a capability as a [Source] knows it.
type Version struct {
	Version      string       // strict semver, e.g. "1.2.0"
	Dependencies []Dependency // other capabilities this version needs
	Kubernetes   string       // semver range the cluster must satisfy; "" = any
	Yanked       bool         // withdrawn: used only when pinned exactly or installed
	Digest       string       // carried into the plan untouched
}

// Dependency is a capability name and a semver range in Masterminds syntax
// ("^1.2", ">=2.0.0 <3", "1.4.0", "*"; "" means any version).
type Dependency struct{ Name, Range string }

// Source lists the versions of a capability, in any order. It returns an
// error wrapping [ErrUnknown] when the capability does not exist; any other
// error stops the resolution and is returned by [Resolve], wrapped with the
// capability's name.
type Source interface {
	Versions(ctx context.Context, name string) ([]Version, error)
}

// Requirement is what the user asked for.
type Requirement struct {
	Name  string
	Range string // "" means any version
}

// Request is one resolution.
type Request struct {
	Requirements []Requirement
	// Installed maps capability name to the version installed in the
	// cluster; resolution keeps it unless the name is in Upgrade (or Upgrade
	// contains "*"), in which case it may pick any version (preferring
	// newest). An installed capability that nothing requires is left out of
	// the plan.
	Installed map[string]string
	Upgrade   []string
	// Kubernetes is the cluster's version (e.g. "1.30.2"); versions whose
	// Kubernetes range excludes it are unusable. Empty: Kubernetes ranges are
	// not checked. A prerelease or build suffix ("1.30.2-eks.1") is ignored.
	Kubernetes string
}

// Step is one capability of a plan.
type Step struct {
	Name, Version, Digest string
	// Installed is true when this exact version is already installed (nothing to do).
	Installed bool
	// Dependencies are the names (in the plan) this step depends on, sorted.
	Dependencies []string
}

// Plan is a resolution: every capability needed, dependencies before
// dependents, in a deterministic order (topological; ties broken by name).
type Plan struct{ Steps []Step }

// Resolve finds versions that satisfy req against src, using the PubGrub
// algorithm: it finds a solution whenever one exists, preferring for every
// capability the newest stable version that fits, and keeping installed
// versions unless they are upgraded.
//
// The source is asked about a capability only when the solver reaches it,
// and at most once. Resolve fails with:
//   - a [*Conflict] (wrapping [ErrNoSolution]) that explains why when no set
//     of versions satisfies every constraint, including when a requirement
//     names an unknown capability (the Conflict then also matches
//     [ErrUnknown]);
//   - an error wrapping [ErrInvalid] for a malformed request or malformed
//     source data reached by the solver;
//   - an error wrapping [ErrCycle] when the chosen versions depend on each
//     other in a circle;
//   - the source's own error, wrapped with the capability's name;
//   - ctx's error when ctx is done.
func Resolve(ctx context.Context, src Source, req Request) (*Plan, error) {
	s, err := newSolver(src, req)
	if err != nil {
		return nil, err
	}
	if err := s.solve(ctx); err != nil {
		return nil, err
	}
	return s.plan()
}
