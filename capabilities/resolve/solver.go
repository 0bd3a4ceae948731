package resolve

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// solver is the state of one resolution: the packages reached so far, the
// incompatibilities known about them, and the partial solution (assigns),
// a trail of decisions and derivations in the order they were made.
type solver struct {
	src         Source
	req         Request
	cluster     *semver.Version
	upgradeAll  bool
	upgrade     map[string]bool
	constraints map[string]*constraint
	vids        map[string]int

	root    *pkg
	pkgs    []*pkg
	byName  map[string]*pkg
	unknown map[string]error

	assigns []assignment
	level   int // number of decisions in the partial solution
	next    candidates
	maxJump int // longest backjump, in decision levels (see backjumpLevel)
	stats   stats
}

// defaultMaxJump is the longest backjump. Up to it, conflicts are learned as
// PubGrub describes, which keeps explanations short; beyond it, undoing
// unrelated decisions costs more than it saves. Measured on Synthetic
// registries of 1 000 to 10 000 packages, 0 and 10 make about as few
// decisions, 100 twice as many; 0 lengthens some explanations.
const defaultMaxJump = 10

// stats counts the solver's work, for benchmarks.
type stats struct {
	decisions int // versions decided, including those later undone
	conflicts int // satisfied incompatibilities resolved
	undone    int // assignments removed by backjumps
}

// assignment is one entry of the partial solution: a decision (a single
// version) or a derivation (a term implied by cause).
type assignment struct {
	p     *pkg
	set   bitset // the term assigned
	acc   bitset // the intersection of p's assignments up to this one
	level int
	cause *incompat // nil for decisions
}

// newSolver validates the request. It fails with ErrInvalid for an empty
// name or a range or version that does not parse.
func newSolver(src Source, req Request) (*solver, error) {
	s := &solver{src: src, req: req, maxJump: defaultMaxJump, upgrade: map[string]bool{}, constraints: map[string]*constraint{}, vids: map[string]int{},
		byName: map[string]*pkg{}, unknown: map[string]error{}}
	for _, u := range req.Upgrade {
		s.upgrade[u] = true
		s.upgradeAll = s.upgradeAll || u == "*"
	}
	if req.Kubernetes != "" {
		v, err := semver.NewVersion(strings.TrimSpace(req.Kubernetes))
		if err != nil {
			return nil, fmt.Errorf("kubernetes version %q: %w: %w", req.Kubernetes, ErrInvalid, err)
		}
		s.cluster = semver.New(v.Major(), v.Minor(), v.Patch(), "", "")
	}
	for name, v := range req.Installed {
		if _, err := semver.NewVersion(v); err != nil {
			return nil, fmt.Errorf("%s: installed version %q: %w: %w", name, v, ErrInvalid, err)
		}
	}
	for _, r := range req.Requirements {
		if r.Name == "" {
			return nil, fmt.Errorf("requirement: empty name: %w", ErrInvalid)
		}
		if _, err := s.constraint(r.Range); err != nil {
			return nil, fmt.Errorf("requirement %s: range %q: %w: %w", r.Name, r.Range, ErrInvalid, err)
		}
	}
	s.root = &pkg{root: true, n: 1, decided: -1, installed: -1, full: fullBitset(2),
		ranges: map[string]*rangeSet{}, written: map[string]string{}, depsDone: map[string]bool{}}
	s.root.all = singleton(2, 0)
	s.pkgs = append(s.pkgs, s.root)
	return s, nil
}

// solve runs PubGrub's main loop: propagate what the partial solution
// implies, then decide one more package, until every selected package is
// decided. It returns a *Conflict when no solution exists.
func (s *solver) solve(ctx context.Context) error {
	for _, r := range s.req.Requirements {
		q, err := s.load(ctx, r.Name)
		if errors.Is(err, ErrUnknown) {
			s.add(newIncompat([]term{{s.root, s.root.all}}, cause{kind: kindUnknownRequire, name: r.Name, text: r.Range}))
			continue
		}
		if err != nil {
			return err
		}
		rs := s.rangeOf(q, r.Range)
		s.add(newIncompat([]term{{s.root, s.root.all}, {q, q.full.minus(rs.admit)}},
			cause{kind: kindRequire, name: r.Name, text: r.Range, rng: rs}))
	}
	s.assign(s.root, s.root.all, nil)
	next := s.root
	for next != nil {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.propagate(next); err != nil {
			return err
		}
		var err error
		if next, err = s.decide(ctx); err != nil {
			return err
		}
	}
	return nil
}

// assign appends a decision (cause nil) or a derivation to the partial
// solution. A decision starts a new decision level.
func (s *solver) assign(p *pkg, set bitset, c *incompat) {
	if c == nil {
		s.level++
	}
	acc := s.current(p).and(set)
	p.trail = append(p.trail, len(s.assigns))
	s.assigns = append(s.assigns, assignment{p: p, set: set, acc: acc, level: s.level, cause: c})
	if c == nil {
		s.stats.decisions++
		p.decided = firstBit(set)
		return
	}
	s.offer(p)
}

// offer makes p a candidate for the next decision if it must be selected
// and is not decided yet.
func (s *solver) offer(p *pkg) {
	cur := s.current(p)
	if p.decided < 0 && !cur.has(p.n) {
		heap.Push(&s.next, candidate{p: p, count: cur.count()})
	}
}

// propagate derives every term the incompatibilities imply, starting from
// the incompatibilities of start. On a conflict it learns, backjumps and
// carries on from the learned incompatibility; it returns a *Conflict when
// the conflict cannot be resolved.
func (s *solver) propagate(start *pkg) error {
	queue := []*pkg{start}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for i := len(p.incompats) - 1; i >= 0; i-- {
			inc := p.incompats[i]
			rel, t := s.relation(inc)
			if rel == relAlmost {
				queue = s.derive(queue, inc, t)
				continue
			}
			if rel != relSatisfied {
				continue
			}
			learned, err := s.resolveConflict(inc)
			if err != nil {
				return err
			}
			if rel, t = s.relation(learned); rel != relAlmost {
				return errors.New("resolve: internal error: learned incompatibility is not almost satisfied")
			}
			queue = s.derive(queue[:0], learned, t)
			break
		}
	}
	return nil
}

// derive assigns the negation of inc's term t, the only one left undecided,
// and queues its package unless already queued.
func (s *solver) derive(queue []*pkg, inc *incompat, t int) []*pkg {
	u := inc.terms[t]
	s.assign(u.p, u.p.full.minus(u.set), inc)
	for _, q := range queue {
		if q == u.p {
			return queue
		}
	}
	return append(queue, u.p)
}

func firstBit(b bitset) int {
	for i := range len(b) * 64 {
		if b.has(i) {
			return i
		}
	}
	return -1
}
