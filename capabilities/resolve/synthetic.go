package resolve

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
)

// memorySource is a Source backed by a map, as Synthetic returns it.
type memorySource map[string][]Version

// Versions returns the versions of name, or an error wrapping ErrUnknown.
func (m memorySource) Versions(_ context.Context, name string) ([]Version, error) {
	v, ok := m[name]
	if !ok {
		return nil, fmt.Errorf("%s: %w", name, ErrUnknown)
	}
	return slices.Clone(v), nil
}

// Synthetic generates a registry for benchmarks and tests: packages
// capabilities named "pkg00000" and up, each with versions versions
// (1.0.0, 1.1.0, … 1.4.0, 2.0.0, …: five minors per major), and a request for
// the first ten. Package i depends on up to three packages among the next
// fifty, with ranges that newer majors tighten at random ("^3", ">=2.0.0"),
// so that the newest choices often conflict and the solver backtracks; the
// oldest version of every package accepts any version of its dependencies,
// so a solution always exists. Some newest versions require a Kubernetes
// newer than the request's 1.30.0. The same arguments give the same
// registry. It never fails; packages < 1 or versions < 1 give an empty
// registry.
func Synthetic(packages, versions int, seed int64) (Source, Request) {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
	src := memorySource{}
	majors := (versions + 4) / 5
	for i := range packages {
		name := synthName(i)
		var targets []int
		for range rng.IntN(4) {
			if j := i + 1 + rng.IntN(50); j < packages && !slices.Contains(targets, j) {
				targets = append(targets, j)
			}
		}
		// One range per major and target, shared by that major's versions.
		ranges := make([][]string, majors)
		for m := range majors {
			for range targets {
				ranges[m] = append(ranges[m], synthRange(rng, m, majors))
			}
		}
		list := make([]Version, 0, versions)
		for k := range versions {
			m := k / 5
			v := Version{Version: fmt.Sprintf("%d.%d.0", m+1, k%5), Digest: fmt.Sprintf("sha256:%s-%d", name, k)}
			for t, j := range targets {
				v.Dependencies = append(v.Dependencies, Dependency{Name: synthName(j), Range: ranges[m][t]})
			}
			if k == versions-1 && rng.IntN(10) == 0 {
				v.Kubernetes = ">=1.31.0"
			}
			list = append(list, v)
		}
		src[name] = list
	}
	req := Request{Kubernetes: "1.30.0"}
	for i := range min(packages, 10) {
		req.Requirements = append(req.Requirements, Requirement{Name: synthName(i)})
	}
	return src, req
}

func synthName(i int) string { return fmt.Sprintf("pkg%05d", i) }

// synthRange returns a dependency range for versions of major m: any
// version for the first major, else a random caret or lower bound.
func synthRange(rng *rand.Rand, m, majors int) string {
	if m == 0 {
		return ">=1.0.0"
	}
	x := 1 + rng.IntN(majors)
	if rng.IntN(2) == 0 {
		return fmt.Sprintf("^%d", x)
	}
	return fmt.Sprintf(">=%d.0.0", x)
}
