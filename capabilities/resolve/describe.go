package resolve

import (
	"fmt"
	"strings"
)

// phrase names a set of p's versions for a person: the range as written
// when one admits exactly that set, otherwise a compact form derived from
// the known versions ("gateway >=1.2.0 <2.0.0", "gateway 1.3.0 or 1.5.0").
func phrase(p *pkg, set bitset) string {
	vs := set.and(p.all)
	switch {
	case p.root:
		return "you"
	case vs.empty():
		return "no version of " + p.name
	case vs.count() == 1:
		return p.name + " " + p.vers[firstBit(vs)].String()
	case vs.equal(p.all):
		if p.n == 1 {
			return p.name + " " + p.vers[0].String()
		}
		return "every version of " + p.name
	}
	if text, ok := p.written[vs.key()]; ok {
		if t := strings.TrimSpace(text); t == "" || t == "*" {
			return "any version of " + p.name
		}
		return p.name + " " + strings.TrimSpace(text)
	}
	return p.name + " " + compact(p, vs)
}

// compact describes a non-empty, partial set of p's versions by listing
// them when there are at most two, else by its runs of consecutive versions.
func compact(p *pkg, vs bitset) string {
	var parts []string
	if vs.count() <= 2 {
		for i := range p.n {
			if vs.has(i) {
				parts = append(parts, p.vers[i].String())
			}
		}
		return orList(parts)
	}
	for i := 0; i < p.n; i++ {
		if !vs.has(i) {
			continue
		}
		j := i
		for j+1 < p.n && vs.has(j+1) {
			j++
		}
		parts = append(parts, run(p, i, j))
		i = j
	}
	return orList(parts)
}

// run describes the versions i..j of p (j < n-1 or i > 0).
func run(p *pkg, i, j int) string {
	if i == j {
		return p.vers[i].String()
	}
	upper := ""
	if j < p.n-1 {
		next := p.vers[j+1]
		if next.Patch() == 0 && next.Prerelease() == "" {
			upper = "<" + next.String()
		} else {
			upper = "<=" + p.vers[j].String()
		}
	}
	switch {
	case i == 0:
		return upper
	case upper == "":
		return ">=" + p.vers[i].String()
	default:
		return ">=" + p.vers[i].String() + " " + upper
	}
}

func orList(parts []string) string {
	if len(parts) == 1 {
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " or " + parts[len(parts)-1]
}

// rangeNote explains a range that admits at most one version: "" when it
// admits several or is an exact pin, " (only 2.1.0 matches)" when it admits
// one, and why nothing matches when it admits none. whose is "your" for a
// requirement and "the" for a dependency.
func (s *solver) rangeNote(q *pkg, rs *rangeSet, whose string) string {
	if rs == nil {
		return ""
	}
	n := rs.admit.count()
	switch {
	case n == 1 && exactPin(rs.text) == nil && whose == "your":
		return fmt.Sprintf(" (only %s matches)", q.vers[firstBit(rs.admit)])
	case n > 0:
		return ""
	}
	var excluded []int
	loose := s.loose(q, rs.text)
	for i := range q.n {
		if loose.has(i) {
			excluded = append(excluded, i)
		}
	}
	text := strings.TrimSpace(rs.text)
	switch {
	case q.n == 0:
		return fmt.Sprintf(", but %s has no versions at all", q.name)
	case len(excluded) == 0:
		return ", but no version matches"
	case len(excluded) == 1:
		i := excluded[0]
		if q.vers[i].Prerelease() != "" {
			return fmt.Sprintf(", but the only version matching %s is %s, a prerelease %s range does not name", text, q.vers[i], whose)
		}
		return fmt.Sprintf(", but the only version matching %s is %s, which is yanked (pin it exactly to use it)", text, q.vers[i])
	}
	list := make([]string, len(excluded))
	for k, i := range excluded {
		list[k] = q.vers[i].String()
	}
	return fmt.Sprintf(", but the versions matching %s (%s) are all prereleases %s range does not name or yanked", text, orList(list), whose)
}
