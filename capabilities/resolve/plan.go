package resolve

import (
	"container/heap"
	"fmt"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// plan turns the decisions into steps: the capabilities reachable from the
// requirements through the chosen versions' dependencies, dependencies
// first, ties broken by name. It fails with ErrCycle when the chosen
// versions depend on each other in a circle.
func (s *solver) plan() (*Plan, error) {
	steps := map[string]*Step{}
	var todo []*pkg
	reach := func(name string) {
		if _, ok := steps[name]; ok {
			return
		}
		p := s.byName[name]
		m := p.meta[p.decided]
		inst, ok := s.req.Installed[name]
		steps[name] = &Step{Name: name, Version: m.Version, Digest: m.Digest,
			Installed: ok && sameVersion(inst, p.vers[p.decided])}
		todo = append(todo, p)
	}
	for _, r := range s.req.Requirements {
		reach(r.Name)
	}
	for len(todo) > 0 {
		p := todo[0]
		todo = todo[1:]
		st := steps[p.name]
		for _, d := range p.deps[p.decided] {
			reach(d.name)
			if !slices.Contains(st.Dependencies, d.name) {
				st.Dependencies = append(st.Dependencies, d.name)
			}
		}
		slices.Sort(st.Dependencies)
	}
	return order(steps)
}

func sameVersion(installed string, v *semver.Version) bool {
	w, err := semver.NewVersion(installed)
	return err == nil && w.Equal(v)
}

// order sorts steps topologically (Kahn's algorithm, smallest name first).
func order(steps map[string]*Step) (*Plan, error) {
	waiting := map[string]int{}
	dependents := map[string][]string{}
	ready := &names{}
	for name, st := range steps {
		waiting[name] = len(st.Dependencies)
		for _, d := range st.Dependencies {
			dependents[d] = append(dependents[d], name)
		}
		if len(st.Dependencies) == 0 {
			heap.Push(ready, name)
		}
	}
	plan := &Plan{Steps: make([]Step, 0, len(steps))}
	for ready.Len() > 0 {
		name := heap.Pop(ready).(string)
		plan.Steps = append(plan.Steps, *steps[name])
		for _, d := range dependents[name] {
			if waiting[d]--; waiting[d] == 0 {
				heap.Push(ready, d)
			}
		}
	}
	if len(plan.Steps) < len(steps) {
		return nil, cycle(steps, waiting)
	}
	return plan, nil
}

// cycle finds a cycle among the steps Kahn's algorithm could not order and
// returns an ErrCycle error that spells it out.
func cycle(steps map[string]*Step, waiting map[string]int) error {
	var left []string
	for name, w := range waiting {
		if w > 0 {
			left = append(left, name)
		}
	}
	slices.Sort(left)
	// Every stuck step has a stuck dependency: walk them until one repeats.
	seen := map[string]int{}
	var path []string
	for name := left[0]; ; {
		if i, ok := seen[name]; ok {
			path = append(path[i:], name)
			break
		}
		seen[name] = len(path)
		path = append(path, name)
		for _, d := range steps[name].Dependencies {
			if waiting[d] > 0 {
				name = d
				break
			}
		}
	}
	parts := make([]string, len(path))
	for i, name := range path {
		parts[i] = name + " " + steps[name].Version
	}
	return fmt.Errorf("%s: %w", strings.Join(parts, " -> "), ErrCycle)
}

// names is a min-heap of capability names.
type names []string

func (n names) Len() int           { return len(n) }
func (n names) Less(i, j int) bool { return n[i] < n[j] }
func (n names) Swap(i, j int)      { n[i], n[j] = n[j], n[i] }
func (n *names) Push(x any)        { *n = append(*n, x.(string)) }
func (n *names) Pop() any {
	old := *n
	x := old[len(old)-1]
	*n = old[:len(old)-1]
	return x
}
