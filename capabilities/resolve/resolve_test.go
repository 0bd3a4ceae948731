package resolve

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
)

func TestResolve(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, scenario, want string
		err                  error
	}{
		{name: "diamond", scenario: `
require app
version app 1.0.0
  dep left ^1
  dep right ^1
version left 1.0.0
  dep base >=1.1.0
version right 1.0.0
  dep base <2.0.0
version base 1.0.0
version base 1.1.0
version base 1.2.0
version base 2.0.0
`, want: "base 1.2.0\nleft 1.0.0 <- base\nright 1.0.0 <- base\napp 1.0.0 <- left,right"},
		{name: "backtrack newest of an early package", scenario: `
require a
require b
version a 2.0.0
  dep c 2.0.0
version a 1.0.0
  dep c *
version b 1.0.0
  dep c ^1
version c 1.0.0
version c 2.0.0
`, want: "c 1.0.0\na 1.0.0 <- c\nb 1.0.0 <- c"},
		{name: "simple conflict", scenario: `
require a
require b
version a 1.0.0
  dep c ^2
version b 1.0.0
  dep c ^1
version c 1.0.0
version c 2.0.0
`, err: ErrNoSolution},
		{name: "cycle", scenario: `
require a
version a 1.0.0
  dep b ^2
version b 2.0.0
  dep a 1.0.0
`, err: ErrCycle, want: "error: a 1.0.0 -> b 2.0.0 -> a 1.0.0: dependency cycle"},
		{name: "yanked skipped unless pinned", scenario: `
require a
require b 1.1.0
version a 1.2.0
  yanked
version a 1.1.0
version b 1.1.0
  yanked
version b 1.0.0
`, want: "a 1.1.0\nb 1.1.0"},
		{name: "prerelease only when named", scenario: `
require a
require b ^2.0.0-rc.1
version a 1.0.0
version a 2.0.0-rc.1
version b 1.0.0
version b 2.0.0-rc.1
`, want: "a 1.0.0\nb 2.0.0-rc.1"},
		{name: "installed kept", scenario: `
require a
installed a 1.0.0
version a 1.0.0
  yanked
version a 2.0.0
`, want: "a 1.0.0 (installed)"},
		{name: "installed upgraded", scenario: `
require a
installed a 1.0.0
upgrade a
version a 1.0.0
version a 2.0.0
`, want: "a 2.0.0"},
		{name: "kubernetes excludes newest", scenario: `
require a
kubernetes 1.28.3
version a 2.0.0
  kube >=1.30.0
version a 1.0.0
  kube >=1.25
`, want: "a 1.0.0"},
		{name: "unknown dependency makes version unusable", scenario: `
require a
version a 2.0.0
  dep ghost ^1
version a 1.0.0
`, want: "a 1.0.0"},
		{name: "unknown requirement", scenario: `
require ghost
version a 1.0.0
`, err: ErrUnknown},
		{name: "bad range", scenario: `
require a
version a 1.0.0
  dep b >>1
version b 1.0.0
`, err: ErrInvalid, want: `error: a 1.0.0: dependency b: range ">>1": invalid input: improper constraint: ">>1"`},
		{name: "deterministic order", scenario: `
require z
require m
require a
version z 1.0.0
  dep m *
version m 1.0.0
version a 1.0.0
  dep m *
`, want: "m 1.0.0\na 1.0.0 <- m\nz 1.0.0 <- m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			plan, err := parseScenario(t, tt.scenario).resolve()
			if tt.err != nil && !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if tt.err == nil && err != nil {
				t.Fatalf("err = %v", err)
			}
			if got := outcome(plan, err); tt.want != "" && got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// countingSource fails the test when a name is asked for twice.
type countingSource struct {
	memorySource
	t    *testing.T
	mu   sync.Mutex
	seen map[string]bool
}

func (c *countingSource) Versions(ctx context.Context, name string) ([]Version, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen[name] {
		c.t.Errorf("source asked twice for %s", name)
	}
	c.seen[name] = true
	return c.memorySource.Versions(ctx, name)
}

func TestSourceCalledLazilyOnce(t *testing.T) {
	t.Parallel()
	sc := parseScenario(t, `
require a
version a 2.0.0
  dep ghost ^1
  dep b ^2
version a 1.0.0
  dep b ^1
version b 1.0.0
version b 2.0.0
version unreached 1.0.0
`)
	src := &countingSource{memorySource: sc.src, t: t, seen: map[string]bool{}}
	if _, err := Resolve(context.Background(), src, sc.req); err != nil {
		t.Fatal(err)
	}
	if src.seen["unreached"] {
		t.Error("source asked for a capability nothing depends on")
	}
}

func TestCanceled(t *testing.T) {
	t.Parallel()
	src, req := Synthetic(100, 20, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Resolve(ctx, src, req); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestInvalidRequest(t *testing.T) {
	t.Parallel()
	for _, req := range []Request{
		{Requirements: []Requirement{{Name: ""}}},
		{Requirements: []Requirement{{Name: "a", Range: "^^1"}}},
		{Kubernetes: "one.two"},
		{Installed: map[string]string{"a": "x"}},
	} {
		_, err := Resolve(context.Background(), memorySource{}, req)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "invalid") {
			t.Errorf("%+v: err = %v, want ErrInvalid", req, err)
		}
	}
}

func TestDeepChainAndSelfDependency(t *testing.T) {
	t.Parallel()
	src := memorySource{}
	const depth = 1000
	for i := range depth {
		v := Version{Version: "1.0.0"}
		if i+1 < depth {
			v.Dependencies = []Dependency{{Name: synthName(i + 1), Range: "^1"}}
		}
		src[synthName(i)] = []Version{v, {Version: "2.0.0", Dependencies: []Dependency{{Name: synthName(i), Range: "^1"}}}}
	}
	plan, err := Resolve(context.Background(), src, Request{Requirements: []Requirement{{Name: synthName(0)}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Steps) != depth || plan.Steps[0].Name != synthName(depth-1) {
		t.Fatalf("plan has %d steps, first %v", len(plan.Steps), plan.Steps[0])
	}
	src = memorySource{"a": {{Version: "1.0.0", Dependencies: []Dependency{{Name: "a", Range: "*"}}}}}
	_, err = Resolve(context.Background(), src, Request{Requirements: []Requirement{{Name: "a"}}})
	if !errors.Is(err, ErrCycle) || !strings.Contains(err.Error(), "a 1.0.0 -> a 1.0.0") {
		t.Fatalf("err = %v, want a self-cycle", err)
	}
}
