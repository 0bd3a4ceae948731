package resolve

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"
)

var iterations = flag.Int("iterations", 1500, "random registries TestAgainstBruteForce checks")

var (
	propNames    = []string{"a", "b", "c", "d", "e"}
	propVersions = []string{"1.0.0", "1.1.0", "2.0.0", "2.1.0-rc.1", "2.1.0", "3.0.0"}
	propRanges   = []string{"*", "", "^1", "^2", ">=1.1.0", "<2.0.0", "1.0.0", "=2.1.0-rc.1", "^2.1.0-rc.1", ">=2.0.0 <3", "~1.0", "2.1.0", "^3", "=1.1.0"}
)

// genScenario builds a small random registry and request, every choice made
// by pick(n), which returns a number in [0, n). extra, when not empty, is
// one more range and version to draw from (the fuzz target's hostile input).
func genScenario(pick func(int) int, extraRange, extraVersion string) scenario {
	ranges, versions := propRanges, propVersions
	if extraRange != "" {
		ranges = append(slices.Clone(ranges), extraRange)
	}
	if extraVersion != "" {
		versions = append(slices.Clone(versions), extraVersion)
	}
	sc := scenario{src: memorySource{}, req: Request{Installed: map[string]string{}}}
	npkg := 2 + pick(4)
	for _, name := range propNames[:npkg] {
		perm := slices.Clone(versions)
		for i := range perm {
			j := i + pick(len(perm)-i)
			perm[i], perm[j] = perm[j], perm[i]
		}
		for _, v := range perm[:1+pick(4)] {
			ver := Version{Version: v, Yanked: pick(7) == 0, Digest: "d-" + name + v}
			for range pick(3) {
				dep := propNames[pick(npkg)]
				if pick(25) == 0 {
					dep = "unknown"
				}
				ver.Dependencies = append(ver.Dependencies, Dependency{Name: dep, Range: ranges[pick(len(ranges))]})
			}
			if pick(7) == 0 {
				ver.Kubernetes = []string{">=1.29", "<1.29"}[pick(2)]
			}
			sc.src[name] = append(sc.src[name], ver)
		}
		if pick(5) == 0 {
			sc.req.Installed[name] = versions[pick(len(versions))]
			if pick(2) == 0 {
				sc.req.Upgrade = append(sc.req.Upgrade, name)
			}
		}
	}
	for range 1 + pick(2) {
		name := propNames[pick(npkg)]
		if pick(30) == 0 {
			name = "missing"
		}
		sc.req.Requirements = append(sc.req.Requirements, Requirement{Name: name, Range: ranges[pick(len(ranges))]})
	}
	if pick(3) == 0 {
		sc.req.Upgrade = append(sc.req.Upgrade, "*")
	}
	sc.req.Kubernetes = []string{"", "1.28.0", "1.30.1"}[pick(3)]
	return sc
}

// rules evaluates the constraints of a scenario directly, as brute force
// and the solution checks need them.
type rules struct {
	sc      scenario
	cluster *semver.Version
}

// admits reports whether a range admits version v of name, by the rules
// Resolve documents: prereleases only when the range names one, yanked
// versions only when pinned exactly or kept installed.
func (r rules) admits(name, text string, v Version) bool {
	if strings.TrimSpace(text) == "" {
		text = "*"
	}
	c, err := semver.NewConstraint(text)
	sv, err2 := semver.StrictNewVersion(v.Version)
	if err != nil || err2 != nil || !c.Check(sv) {
		return false
	}
	if !v.Yanked {
		return true
	}
	if p := exactPin(text); p != nil && p.Equal(sv) {
		return true
	}
	return r.kept(name) && r.sc.req.Installed[name] == v.Version
}

func (r rules) kept(name string) bool {
	_, ok := r.sc.req.Installed[name]
	return ok && !slices.Contains(r.sc.req.Upgrade, name) && !slices.Contains(r.sc.req.Upgrade, "*")
}

// violation returns why choice (name → version; absent means not selected)
// breaks a constraint, or "".
func (r rules) violation(choice map[string]Version) string {
	need := func(who, name, text string) string {
		v, ok := choice[name]
		if !ok || !r.admits(name, text, v) {
			return fmt.Sprintf("%s needs %s %q", who, name, text)
		}
		return ""
	}
	for _, q := range r.sc.req.Requirements {
		if msg := need("request", q.Name, q.Range); msg != "" {
			return msg
		}
	}
	for name, v := range choice {
		for _, d := range v.Dependencies {
			if msg := need(name+" "+v.Version, d.Name, d.Range); msg != "" {
				return msg
			}
		}
		if r.cluster != nil && v.Kubernetes != "" {
			c, err := semver.NewConstraint(v.Kubernetes)
			if err != nil || !c.Check(r.cluster) {
				return fmt.Sprintf("%s %s: kubernetes %s", name, v.Version, v.Kubernetes)
			}
		}
		if r.kept(name) && r.sc.req.Installed[name] != v.Version {
			return fmt.Sprintf("%s: installed %s is kept", name, r.sc.req.Installed[name])
		}
	}
	return ""
}

// bruteForce reports whether any choice of versions satisfies every
// constraint, trying them all.
func (r rules) bruteForce() bool {
	var names []string
	for name := range r.sc.src {
		names = append(names, name)
	}
	slices.Sort(names)
	choice := map[string]Version{}
	var try func(i int) bool
	try = func(i int) bool {
		if i == len(names) {
			return r.violation(choice) == ""
		}
		delete(choice, names[i])
		if try(i + 1) {
			return true
		}
		for _, v := range r.sc.src[names[i]] {
			choice[names[i]] = v
			if try(i + 1) {
				return true
			}
		}
		delete(choice, names[i])
		return false
	}
	return try(0)
}

func newRules(sc scenario) rules {
	r := rules{sc: sc}
	if sc.req.Kubernetes != "" {
		r.cluster = semver.MustParse(sc.req.Kubernetes)
	}
	return r
}

// checkResult checks one resolution against the constraints: a plan must
// satisfy all of them and list dependencies first; a conflict must explain
// itself; brute force must agree on whether a solution exists.
func checkResult(t *testing.T, sc scenario, plan *Plan, err error, brute bool) {
	t.Helper()
	r := newRules(sc)
	var c *Conflict
	switch {
	case errors.As(err, &c):
		if !errors.Is(err, ErrNoSolution) || c.Error() == "" {
			t.Fatalf("conflict without explanation: %v", err)
		}
		if brute {
			t.Fatalf("resolver found no solution, brute force did:\n%s", c.Error())
		}
	case errors.Is(err, ErrCycle):
		if !brute {
			t.Fatalf("resolver found a cycle, brute force no solution: %v", err)
		}
	case err != nil:
		t.Fatalf("unexpected error: %v", err)
	default:
		if !brute {
			t.Fatalf("resolver found a solution, brute force did not:\n%s", outcome(plan, nil))
		}
		choice := map[string]Version{}
		seen := map[string]bool{}
		for _, s := range plan.Steps {
			for _, d := range s.Dependencies {
				if !seen[d] {
					t.Fatalf("%s comes before its dependency %s:\n%s", s.Name, d, outcome(plan, nil))
				}
			}
			seen[s.Name] = true
			for _, v := range sc.src[s.Name] {
				if v.Version == s.Version {
					choice[s.Name] = v
				}
			}
		}
		if msg := r.violation(choice); msg != "" {
			t.Fatalf("plan breaks a constraint: %s\n%s", msg, outcome(plan, nil))
		}
	}
}

func TestAgainstBruteForce(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range *iterations {
		sc := genScenario(rng.IntN, "", "")
		brute := newRules(sc).bruteForce()
		for _, resolve := range []func() (*Plan, error){sc.resolve, sc.resolveChrono} {
			plan, err := resolve()
			func() {
				defer func() {
					if t.Failed() {
						t.Logf("registry %d: %+v", i, sc)
					}
				}()
				checkResult(t, sc, plan, err, brute)
			}()
		}
	}
}

func parses(v string) bool {
	_, err := semver.StrictNewVersion(v)
	return err == nil
}

func rangeParses(text string) bool {
	if strings.TrimSpace(text) == "" {
		return true
	}
	_, err := semver.NewConstraint(text)
	return err == nil
}
