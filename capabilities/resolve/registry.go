package resolve

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// A pkg is one capability the solver has reached: its versions sorted from
// oldest to newest, and the solver's state about it. Version indexes are
// positions in that order; bit n of a bitset (n = number of versions) means
// "not selected".
type pkg struct {
	id   int
	name string
	root bool // the user's request, with one pseudo-version

	vers []*semver.Version
	vids []int // interned version strings, for constraint memos
	meta []Version
	deps [][]parsedDep // per version
	n    int
	all  bitset // every version, without the "not selected" bit
	full bitset // every version and "not selected"

	installed int // index of the installed version being kept, or -1
	ranges    map[string]*rangeSet
	written   map[string]string // bitset key → a range as written that admits exactly that set
	depsDone  map[string]bool

	incompats []*incompat
	trail     []int // indexes of this package's assignments in solver.assigns
	decided   int   // version index, or -1
}

// parsedDep is a dependency whose range has been parsed.
type parsedDep struct {
	name, text string
	c          *constraint
}

// rangeSet is a range as written and the versions of one package it admits:
// admit follows the eligibility rules (prereleases only when the range names
// one, yanked versions only when pinned exactly or installed).
type rangeSet struct {
	text  string
	admit bitset
}

// current returns the versions p may still take, intersected over all of
// its assignments.
func (s *solver) current(p *pkg) bitset {
	if len(p.trail) == 0 {
		return p.full
	}
	return s.assigns[p.trail[len(p.trail)-1]].acc
}

// load returns the package called name, asking the source on first use. It
// returns an error wrapping ErrUnknown when the source does not know name.
func (s *solver) load(ctx context.Context, name string) (*pkg, error) {
	if p, ok := s.byName[name]; ok {
		return p, nil
	}
	if err, ok := s.unknown[name]; ok {
		return nil, err
	}
	list, err := s.src.Versions(ctx, name)
	if errors.Is(err, ErrUnknown) {
		s.unknown[name] = err
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p, err := s.newPkg(name, list)
	if err != nil {
		return nil, err
	}
	s.byName[name] = p
	s.addPkgIncompats(p)
	return p, nil
}

// newPkg parses and sorts the versions of a capability. It fails with
// ErrInvalid for a version that is not strict semver, a duplicate version,
// or a range that does not parse.
func (s *solver) newPkg(name string, list []Version) (*pkg, error) {
	type parsed struct {
		v *semver.Version
		m Version
	}
	all := make([]parsed, 0, len(list))
	for _, m := range list {
		v, err := semver.StrictNewVersion(m.Version)
		if err != nil {
			return nil, fmt.Errorf("%s %q: version: %w: %w", name, m.Version, ErrInvalid, err)
		}
		all = append(all, parsed{v, m})
	}
	slices.SortFunc(all, func(a, b parsed) int { return a.v.Compare(b.v) })
	p := &pkg{id: len(s.pkgs), name: name, n: len(all), installed: -1, decided: -1,
		ranges: map[string]*rangeSet{}, written: map[string]string{}, depsDone: map[string]bool{},
		vers: make([]*semver.Version, 0, len(all)), meta: make([]Version, 0, len(all)),
		deps: make([][]parsedDep, 0, len(all)), vids: make([]int, 0, len(all))}
	for i, e := range all {
		if i > 0 && e.v.Equal(all[i-1].v) {
			return nil, fmt.Errorf("%s %s: version: listed twice: %w", name, e.v, ErrInvalid)
		}
		deps, err := s.parseDeps(name, e.m)
		if err != nil {
			return nil, err
		}
		p.vers, p.meta, p.deps = append(p.vers, e.v), append(p.meta, e.m), append(p.deps, deps)
		p.vids = append(p.vids, s.vid(e.m.Version))
	}
	p.full = fullBitset(p.n + 1)
	p.all = p.full.minus(singleton(p.n+1, p.n))
	if err := s.pin(p); err != nil {
		return nil, err
	}
	s.pkgs = append(s.pkgs, p)
	return p, nil
}

func (s *solver) parseDeps(name string, m Version) ([]parsedDep, error) {
	deps := make([]parsedDep, 0, len(m.Dependencies))
	for _, d := range m.Dependencies {
		if d.Name == "" {
			return nil, fmt.Errorf("%s %s: dependency: empty name: %w", name, m.Version, ErrInvalid)
		}
		c, err := s.constraint(d.Range)
		if err != nil {
			return nil, fmt.Errorf("%s %s: dependency %s: range %q: %w: %w", name, m.Version, d.Name, d.Range, ErrInvalid, err)
		}
		deps = append(deps, parsedDep{name: d.Name, text: d.Range, c: c})
	}
	if m.Kubernetes != "" {
		if _, err := s.constraint(m.Kubernetes); err != nil {
			return nil, fmt.Errorf("%s %s: kubernetes range %q: %w: %w", name, m.Version, m.Kubernetes, ErrInvalid, err)
		}
	}
	return deps, nil
}

// constraint is a parsed range and what it answered so far, by interned
// version id: 0 not asked, 1 admitted, 2 not admitted.
type constraint struct {
	c    *semver.Constraints
	memo []int8
}

// constraint parses a range once per solver; "" means any version.
func (s *solver) constraint(text string) (*constraint, error) {
	if c, ok := s.constraints[text]; ok {
		return c, nil
	}
	t := strings.TrimSpace(text)
	if t == "" {
		t = "*"
	}
	c, err := semver.NewConstraint(t)
	if err != nil {
		return nil, err
	}
	s.constraints[text] = &constraint{c: c}
	return s.constraints[text], nil
}

// pin records the installed version p keeps, if any. It fails with
// ErrInvalid when the installed version is not semver.
func (s *solver) pin(p *pkg) error {
	inst, ok := s.req.Installed[p.name]
	if !ok || s.upgradeAll || s.upgrade[p.name] {
		return nil
	}
	v, err := semver.NewVersion(inst)
	if err != nil {
		return fmt.Errorf("%s: installed version %q: %w: %w", p.name, inst, ErrInvalid, err)
	}
	for i, w := range p.vers {
		if w.Equal(v) {
			p.installed = i
		}
	}
	return nil
}

// rangeOf returns the versions of p that the range text admits. The range
// must have been parsed by constraint before.
func (s *solver) rangeOf(p *pkg, text string) *rangeSet {
	if r, ok := p.ranges[text]; ok {
		return r
	}
	c := s.constraints[text]
	pinned := exactPin(text)
	r := &rangeSet{text: text, admit: newBitset(p.n + 1)}
	for i, v := range p.vers {
		yankOK := !p.meta[i].Yanked || i == p.installed || (pinned != nil && pinned.Equal(v))
		if yankOK && s.check(c, p.vids[i], v) {
			r.admit.set(i)
		}
	}
	p.ranges[text] = r
	if _, ok := p.written[r.admit.key()]; !ok {
		p.written[r.admit.key()] = text
	}
	return r
}

// loose returns the versions of p a range would admit without the
// prerelease and yanked rules (a prerelease counts as its release), to
// explain what the rules excluded.
func (s *solver) loose(p *pkg, text string) bitset {
	c := s.constraints[text]
	set := newBitset(p.n + 1)
	for i, v := range p.vers {
		core := semver.New(v.Major(), v.Minor(), v.Patch(), "", "")
		if c.c.Check(v) || c.c.Check(core) {
			set.set(i)
		}
	}
	return set
}

// check reports whether c admits v, whose interned id is vid, asking the
// semver library once per range and version string across all packages
// (its Check builds an error for every miss, which is slow).
func (s *solver) check(c *constraint, vid int, v *semver.Version) bool {
	for len(c.memo) <= vid {
		c.memo = append(c.memo, 0)
	}
	if c.memo[vid] == 0 {
		c.memo[vid] = 2
		if c.c.Check(v) {
			c.memo[vid] = 1
		}
	}
	return c.memo[vid] == 1
}

// vid interns a version string.
func (s *solver) vid(text string) int {
	id, ok := s.vids[text]
	if !ok {
		id = len(s.vids)
		s.vids[text] = id
	}
	return id
}

// exactPin returns the version a range pins exactly ("1.2.0" or "=1.2.0"),
// or nil.
func exactPin(text string) *semver.Version {
	t := strings.TrimSpace(text)
	t = strings.TrimSpace(strings.TrimPrefix(t, "="))
	v, err := semver.StrictNewVersion(t)
	if err != nil {
		return nil
	}
	return v
}

// addPkgIncompats adds what is known about p alone: the installed version it
// keeps, and the versions the cluster's Kubernetes version excludes.
func (s *solver) addPkgIncompats(p *pkg) {
	if inst, ok := s.req.Installed[p.name]; ok && !s.upgradeAll && !s.upgrade[p.name] {
		keep := newBitset(p.n + 1)
		if p.installed >= 0 {
			keep.set(p.installed)
		}
		s.add(newIncompat([]term{{p, p.all.minus(keep)}}, cause{kind: kindInstalled, version: inst}))
	}
	if s.cluster == nil {
		return
	}
	byRange := map[string]bitset{}
	var order []string
	for i, m := range p.meta {
		if m.Kubernetes == "" || s.constraints[m.Kubernetes].c.Check(s.cluster) {
			continue
		}
		if _, ok := byRange[m.Kubernetes]; !ok {
			byRange[m.Kubernetes] = newBitset(p.n + 1)
			order = append(order, m.Kubernetes)
		}
		byRange[m.Kubernetes].set(i)
	}
	for _, k := range order {
		s.add(newIncompat([]term{{p, byRange[k]}}, cause{kind: kindKubernetes, text: k}))
	}
}
