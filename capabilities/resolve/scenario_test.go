package resolve

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// scenario is a registry and a request written in a small line language,
// shared by the table tests and the golden explanations:
//
//	require NAME [RANGE]
//	installed NAME VERSION
//	upgrade NAME
//	kubernetes VERSION
//	version NAME VERSION
//	  dep NAME [RANGE]      (a dependency of the version above)
//	  kube RANGE            (its Kubernetes range)
//	  yanked
//	  digest DIGEST
//
// Blank lines and lines starting with "#" are ignored.
type scenario struct {
	src memorySource
	req Request
}

func parseScenario(t testing.TB, text string) scenario {
	t.Helper()
	sc := scenario{src: memorySource{}}
	var cur *Version
	var curName string
	flush := func() {
		if cur != nil {
			sc.src[curName] = append(sc.src[curName], *cur)
			cur = nil
		}
	}
	s := bufio.NewScanner(strings.NewReader(text))
	for n := 1; s.Scan(); n++ {
		raw := s.Text()
		f := strings.Fields(raw)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		rest := func(i int) string { return strings.Join(f[min(i, len(f)):], " ") }
		nested := strings.HasPrefix(raw, " ") || strings.HasPrefix(raw, "\t")
		switch {
		case nested && cur != nil && f[0] == "dep":
			cur.Dependencies = append(cur.Dependencies, Dependency{Name: f[1], Range: rest(2)})
		case nested && cur != nil && f[0] == "kube":
			cur.Kubernetes = rest(1)
		case nested && cur != nil && f[0] == "yanked":
			cur.Yanked = true
		case nested && cur != nil && f[0] == "digest":
			cur.Digest = rest(1)
		case f[0] == "version" && len(f) == 3:
			flush()
			curName, cur = f[1], &Version{Version: f[2]}
		case f[0] == "require" && len(f) >= 2:
			sc.req.Requirements = append(sc.req.Requirements, Requirement{Name: f[1], Range: rest(2)})
		case f[0] == "installed" && len(f) == 3:
			if sc.req.Installed == nil {
				sc.req.Installed = map[string]string{}
			}
			sc.req.Installed[f[1]] = f[2]
		case f[0] == "upgrade" && len(f) == 2:
			sc.req.Upgrade = append(sc.req.Upgrade, f[1])
		case f[0] == "kubernetes" && len(f) == 2:
			sc.req.Kubernetes = f[1]
		default:
			t.Fatalf("scenario line %d: cannot parse %q", n, raw)
		}
	}
	flush()
	return sc
}

// outcome renders a resolution for comparison: the plan, one step a line,
// or the error.
func outcome(plan *Plan, err error) string {
	if err != nil {
		var c *Conflict
		if errors.As(err, &c) {
			return c.Error()
		}
		return "error: " + err.Error()
	}
	var b strings.Builder
	for _, s := range plan.Steps {
		fmt.Fprintf(&b, "%s %s", s.Name, s.Version)
		if s.Installed {
			b.WriteString(" (installed)")
		}
		if len(s.Dependencies) > 0 {
			fmt.Fprintf(&b, " <- %s", strings.Join(s.Dependencies, ","))
		}
		b.WriteString("\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func (sc scenario) resolve() (*Plan, error) {
	return Resolve(context.Background(), sc.src, sc.req)
}

// resolveChrono resolves like Resolve but backtracks chronologically after
// every conflict (maxJump 0), the path Resolve takes only on long jumps,
// which small scenarios never make.
func (sc scenario) resolveChrono() (*Plan, error) {
	s, err := newSolver(sc.src, sc.req)
	if err != nil {
		return nil, err
	}
	s.maxJump = 0
	if err := s.solve(context.Background()); err != nil {
		return nil, err
	}
	return s.plan()
}
