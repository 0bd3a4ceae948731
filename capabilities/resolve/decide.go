package resolve

import (
	"container/heap"
	"context"
	"errors"
)

// candidate is a package that must be selected, with the number of
// versions it may still take when it was offered.
type candidate struct {
	p     *pkg
	count int
}

// candidates is a min-heap of packages to decide: fewest versions left
// first (they fail fastest), then the package reached first. Entries go
// stale when a package is decided or narrowed; decide skips those.
type candidates []candidate

func (c candidates) Len() int { return len(c) }
func (c candidates) Less(i, j int) bool {
	if c[i].count != c[j].count {
		return c[i].count < c[j].count
	}
	return c[i].p.id < c[j].p.id
}
func (c candidates) Swap(i, j int) { c[i], c[j] = c[j], c[i] }
func (c *candidates) Push(x any)   { *c = append(*c, x.(candidate)) }
func (c *candidates) Pop() any {
	old := *c
	x := old[len(old)-1]
	*c = old[:len(old)-1]
	return x
}

// pop returns the next package to decide, or nil when every package that
// must be selected is decided.
func (s *solver) pop() *pkg {
	for s.next.Len() > 0 {
		c := heap.Pop(&s.next).(candidate)
		cur := s.current(c.p)
		if c.p.decided < 0 && !cur.has(c.p.n) && cur.count() == c.count {
			return c.p
		}
	}
	return nil
}

// decide picks the next package and its preferred version, adds the
// incompatibilities of that version's dependencies and, unless one of them
// already rules the version out, decides it. It returns the package to
// propagate from, or nil when the solution is complete. It fails when the
// source fails or its data is malformed.
func (s *solver) decide(ctx context.Context) (*pkg, error) {
	p := s.pop()
	if p == nil {
		return nil, nil
	}
	v := prefer(p, s.current(p))
	conflict := false
	for _, d := range p.deps[v] {
		inc, err := s.depIncompat(ctx, p, d)
		if err != nil {
			return nil, err
		}
		if inc == nil {
			continue
		}
		s.add(inc)
		conflict = conflict || s.othersHold(inc, p)
	}
	if !conflict {
		s.assign(p, singleton(p.n+1, v), nil)
	} else {
		// Offer p again: propagation narrows it, and it may still be needed.
		s.offer(p)
	}
	return p, nil
}

// othersHold reports whether every term of inc not about p is satisfied.
func (s *solver) othersHold(inc *incompat, p *pkg) bool {
	for _, t := range inc.terms {
		if t.p != p && !s.current(t.p).subsetOf(t.set) {
			return false
		}
	}
	return true
}

// depIncompat returns the incompatibility for p's dependency d, shared by
// every version of p that has the same dependency, or nil when it was added
// already (or can never hold). A dependency on an unknown capability makes
// every version of p that has it unusable.
func (s *solver) depIncompat(ctx context.Context, p *pkg, d parsedDep) (*incompat, error) {
	q, err := s.load(ctx, d.name)
	unknown := errors.Is(err, ErrUnknown)
	if err != nil && !unknown {
		return nil, err
	}
	key := d.name + "\x00" + d.text
	if unknown {
		key = d.name
	}
	if p.depsDone[key] {
		return nil, nil
	}
	p.depsDone[key] = true
	from := newBitset(p.n + 1)
	for i, deps := range p.deps {
		for _, e := range deps {
			if e.name == d.name && (unknown || e.text == d.text) {
				from.set(i)
			}
		}
	}
	if unknown {
		return newIncompat([]term{{p, from}}, cause{kind: kindUnknownDep, from: term{p, from}, name: d.name}), nil
	}
	rs := s.rangeOf(q, d.text)
	return newIncompat([]term{{p, from}, {q, q.full.minus(rs.admit)}},
		cause{kind: kindDependency, from: term{p, from}, name: d.name, text: d.text, rng: rs}), nil
}

// prefer returns the version to try first among set: the installed one when
// it is kept, else the newest stable version, else the newest prerelease.
func prefer(p *pkg, set bitset) int {
	if p.installed >= 0 && set.has(p.installed) {
		return p.installed
	}
	best := -1
	for i := p.n - 1; i >= 0; i-- {
		if !set.has(i) {
			continue
		}
		if p.vers[i].Prerelease() == "" {
			return i
		}
		if best < 0 {
			best = i
		}
	}
	return best
}
