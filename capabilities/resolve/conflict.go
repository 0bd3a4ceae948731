package resolve

// resolveConflict handles an incompatibility that the partial solution
// satisfies: it derives new incompatibilities from it and from the causes
// of its satisfiers until one would have been almost satisfied at an
// earlier decision level, learns that one, backjumps (see backjumpLevel)
// and returns it.
// When the derivation reaches "you cannot get anything", it returns the
// *Conflict that explains why.
func (s *solver) resolveConflict(inc *incompat) (*incompat, error) {
	s.stats.conflicts++
	original := inc
	for {
		if s.terminal(inc) {
			return nil, s.conflict(inc)
		}
		satIdx, satTerm, prevLevel := -1, term{}, 1
		for _, t := range inc.terms {
			idx := s.satisfier(t.p, t.set)
			switch {
			case idx > satIdx:
				if satIdx >= 0 {
					prevLevel = max(prevLevel, s.assigns[satIdx].level)
				}
				satIdx, satTerm = idx, t
			default:
				prevLevel = max(prevLevel, s.assigns[idx].level)
			}
		}
		sat := s.assigns[satIdx]
		diff := sat.set.minus(satTerm.set)
		if !diff.empty() {
			idx := s.satisfier(satTerm.p, satTerm.p.full.minus(diff))
			prevLevel = max(prevLevel, s.assigns[idx].level)
		}
		if sat.cause == nil || prevLevel != sat.level {
			if inc != original {
				s.add(inc)
			}
			s.backtrack(s.backjumpLevel(prevLevel, sat.level))
			return inc, nil
		}
		terms := make([]term, 0, len(inc.terms)+len(sat.cause.terms))
		for _, t := range inc.terms {
			if t.p != satTerm.p {
				terms = append(terms, t)
			}
		}
		for _, t := range sat.cause.terms {
			if t.p != satTerm.p {
				terms = append(terms, t)
			}
		}
		if !diff.empty() {
			terms = append(terms, term{satTerm.p, satTerm.p.full.minus(diff)})
		}
		c := cause{kind: kindDerived, left: inc, right: sat.cause}
		next := newIncompat(terms, c)
		if next == nil {
			// Cannot happen: a derived incompatibility is satisfied by the
			// partial solution, so none of its terms is empty.
			next = &incompat{cause: c}
		}
		inc = next
	}
}

// backjumpLevel returns the decision level to go back to after learning an
// incompatibility that is almost satisfied from level applies on and was
// satisfied at level satisfied.
//
// PubGrub goes back to applies, undoing every decision since. Most of those
// have nothing to do with the conflict and are then made again: on a
// registry of 10 000 packages that repeated work was 443 000 decisions for
// 5 500 packages. A jump longer than s.maxJump levels therefore undoes only
// the last level (chronological backtracking, as SAT solvers do after
// Nadel and Ryvchin, 2018). That is sound: the learned incompatibility is
// almost satisfied at every level from applies to satisfied-1, so the same
// term is derived, only recorded at a later level than it needs; later
// conflicts then jump back less far, never past what they depend on.
func (s *solver) backjumpLevel(applies, satisfied int) int {
	if satisfied-applies > s.maxJump {
		return satisfied - 1
	}
	return applies
}

// terminal reports whether inc says the request itself cannot be met.
func (s *solver) terminal(inc *incompat) bool {
	return len(inc.terms) == 0 || (len(inc.terms) == 1 && inc.terms[0].p.root && inc.terms[0].positive())
}

// satisfier returns the index of the earliest assignment of p after which
// p's assignments so far all lie in set.
func (s *solver) satisfier(p *pkg, set bitset) int {
	for _, idx := range p.trail {
		if s.assigns[idx].acc.subsetOf(set) {
			return idx
		}
	}
	panic("resolve: internal error: term is not satisfied by the partial solution")
}

// backtrack removes every assignment made after decision level level.
func (s *solver) backtrack(level int) {
	touched := map[*pkg]bool{}
	for len(s.assigns) > 0 && s.assigns[len(s.assigns)-1].level > level {
		a := s.assigns[len(s.assigns)-1]
		s.assigns = s.assigns[:len(s.assigns)-1]
		s.stats.undone++
		a.p.trail = a.p.trail[:len(a.p.trail)-1]
		if a.cause == nil {
			a.p.decided = -1
		}
		touched[a.p] = true
	}
	s.level = level
	for p := range touched {
		s.offer(p)
	}
}
