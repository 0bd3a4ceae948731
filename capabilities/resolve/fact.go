package resolve

import (
	"fmt"
	"strings"
)

// fact states an incompatibility in English: where it came from for an
// external one, what it means for a derived one.
func (s *solver) fact(inc *incompat) string {
	c := inc.cause
	switch c.kind {
	case kindRequire:
		q := s.byName[c.name]
		return "you asked for " + asked(c.name, c.text) + s.rangeNote(q, c.rng, "your")
	case kindUnknownRequire:
		return "you asked for " + asked(c.name, c.text) + ", which is not a known capability"
	case kindDependency:
		q := s.byName[c.name]
		return phrase(c.from.p, c.from.set) + " depends on " + asked(c.name, c.text) + s.rangeNote(q, c.rng, "the")
	case kindUnknownDep:
		return phrase(c.from.p, c.from.set) + " depends on unknown capability " + c.name
	case kindKubernetes:
		t := inc.terms[0]
		verb := "requires"
		if t.set.count() > 1 && !t.set.equal(t.p.all) {
			verb = "require"
		}
		return fmt.Sprintf("%s %s Kubernetes %s but the cluster runs %s", phrase(t.p, t.set), verb,
			strings.TrimSpace(c.text), s.cluster)
	case kindInstalled:
		name := inc.terms[0].p.name
		if inc.terms[0].set.equal(inc.terms[0].p.all) {
			return fmt.Sprintf("%s is installed (%s), a version its source does not list, and not being upgraded", name, c.version)
		}
		return fmt.Sprintf("%s is installed (%s) and not being upgraded", name, c.version)
	}
	return derivedFact(inc.terms)
}

// asked writes a capability and a range as the user or the source wrote it.
func asked(name, text string) string {
	t := strings.TrimSpace(text)
	if t == "" || t == "*" {
		return name
	}
	return name + " " + t
}

// derivedFact states what a learned incompatibility means. Terms about the
// request itself are left out: they always hold.
func derivedFact(all []term) string {
	var pos, neg []string
	for _, t := range all {
		switch {
		case t.p.root:
		case t.positive():
			pos = append(pos, phrase(t.p, t.set))
		default:
			neg = append(neg, phrase(t.p, t.p.all.minus(t.set)))
		}
	}
	switch {
	case len(pos) == 0 && len(neg) == 0:
		return "no set of versions works"
	case len(pos) == 1 && len(neg) == 0:
		return pos[0] + " cannot be used"
	case len(pos) == 0 && len(neg) == 1:
		return neg[0] + " is required"
	case len(pos) == 2 && len(neg) == 0:
		return pos[0] + " is incompatible with " + pos[1]
	case len(pos) == 0:
		return "either " + orList(neg) + " is required"
	case len(neg) == 0:
		return andList(pos) + " are incompatible"
	case len(pos) == 1:
		return pos[0] + " requires " + orList(neg)
	}
	return andList(pos) + " together require " + orList(neg)
}

func andList(parts []string) string {
	if len(parts) == 1 {
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}
