package resolve

// A term says that a package's version lies in a set. Because the set may
// hold the "not selected" bit, positive terms ("foo ^1") and negative terms
// ("not foo ^1") are the same type.
type term struct {
	p   *pkg
	set bitset
}

// positive reports whether the term requires the package to be selected.
func (t term) positive() bool { return !t.set.has(t.p.n) }

// causeKind says where an incompatibility comes from.
type causeKind int

const (
	kindDerived        causeKind = iota // learned from two other incompatibilities
	kindRequire                         // the user asked for a range
	kindUnknownRequire                  // the user asked for an unknown capability
	kindDependency                      // a version depends on a range of another capability
	kindUnknownDep                      // a version depends on an unknown capability
	kindKubernetes                      // versions whose Kubernetes range excludes the cluster
	kindInstalled                       // the installed version is kept
)

// cause is where an incompatibility came from, kept to explain it.
type cause struct {
	kind    causeKind
	from    term      // kindDependency, kindUnknownDep: the depending versions
	name    string    // the capability depended on or asked for
	text    string    // the range as written (or the Kubernetes range)
	rng     *rangeSet // kindRequire, kindDependency: the range, when name is known
	version string    // kindInstalled: the installed version
	left    *incompat
	right   *incompat
}

// An incompatibility is a set of terms that must not all hold at once.
// External ones come from the request and the source; derived ones are
// learned during conflict resolution from two others.
type incompat struct {
	terms []term
	cause cause
}

// newIncompat builds an incompatibility, merging terms about the same
// package (an incompatibility's terms hold together, so their sets
// intersect) and dropping terms that always hold. It returns nil when a term
// can never hold, since such an incompatibility can never be satisfied.
func newIncompat(terms []term, c cause) *incompat {
	merged := make([]term, 0, len(terms))
	for _, t := range terms {
		found := false
		for i := range merged {
			if merged[i].p == t.p {
				merged[i].set = merged[i].set.and(t.set)
				found = true
			}
		}
		if !found {
			merged = append(merged, t)
		}
	}
	out := merged[:0]
	for _, t := range merged {
		if t.set.empty() {
			return nil
		}
		if !t.set.equal(t.p.full) {
			out = append(out, t)
		}
	}
	return &incompat{terms: out, cause: c}
}

// add registers an incompatibility with every package it mentions; a nil
// incompatibility is ignored.
func (s *solver) add(inc *incompat) {
	if inc == nil {
		return
	}
	for _, t := range inc.terms {
		t.p.incompats = append(t.p.incompats, inc)
	}
	if len(inc.terms) == 0 {
		s.root.incompats = append(s.root.incompats, inc)
	}
}

// relation of an incompatibility to the partial solution.
type relation int

const (
	relSatisfied    relation = iota // every term holds: a conflict
	relAlmost                       // every term but one holds, and that one is undecided
	relContradicted                 // some term cannot hold: nothing to learn
	relInconclusive                 // two or more terms are undecided
)

// relation returns how inc stands against the partial solution and, when
// almost satisfied, the index of the one term left undecided.
func (s *solver) relation(inc *incompat) (relation, int) {
	left := -1
	for i, t := range inc.terms {
		cur := s.current(t.p)
		if cur.subsetOf(t.set) {
			continue
		}
		if cur.disjoint(t.set) {
			return relContradicted, -1
		}
		if left >= 0 {
			return relInconclusive, -1
		}
		left = i
	}
	if left < 0 {
		return relSatisfied, -1
	}
	return relAlmost, left
}
