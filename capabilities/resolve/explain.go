package resolve

import (
	"fmt"
	"strings"
)

// conflict builds the *Conflict that explains why the terminal
// incompatibility inc was derived.
func (s *solver) conflict(inc *incompat) *Conflict {
	w := &writer{s: s, derivations: map[*incompat]int{}, numbers: map[*incompat]int{}}
	w.count(inc)
	if inc.cause.kind == kindDerived {
		w.visit(inc, false)
	} else {
		w.write(inc, "Because "+w.external(inc)+", no set of versions works.", false)
	}
	return &Conflict{lines: w.lines(), unknown: w.unknown}
}

// writer turns a derivation into numbered English sentences, the way
// PubGrub's error reporting does: facts used more than once get a number
// and are referred to by it; chains of single-use facts read as one story.
type writer struct {
	s           *solver
	derivations map[*incompat]int
	numbers     map[*incompat]int
	out         []line
	unknown     bool
}

type line struct {
	text   string
	number int
}

// count records how many times each derived incompatibility is used.
func (w *writer) count(inc *incompat) {
	w.derivations[inc]++
	if w.derivations[inc] > 1 || inc.cause.kind != kindDerived {
		return
	}
	w.count(inc.cause.left)
	w.count(inc.cause.right)
}

// write adds a line; numbered lines get the next number.
func (w *writer) write(inc *incompat, text string, numbered bool) {
	l := line{text: text}
	if numbered {
		l.number = len(w.numbers) + 1
		w.numbers[inc] = l.number
	}
	w.out = append(w.out, l)
}

// ref names a derived fact, with its line number when it has one.
func (w *writer) ref(inc *incompat) string {
	if n, ok := w.numbers[inc]; ok {
		return fmt.Sprintf("%s (%d)", w.s.fact(inc), n)
	}
	return w.s.fact(inc)
}

// visit writes the lines that derive inc, then inc itself.
func (w *writer) visit(inc *incompat, conclusion bool) {
	numbered := conclusion || w.derivations[inc] > 1
	left, right := inc.cause.left, inc.cause.right
	text := w.s.fact(inc)
	ld, rd := left.cause.kind == kindDerived, right.cause.kind == kindDerived
	switch {
	case ld && rd:
		_, lnum := w.numbers[left]
		_, rnum := w.numbers[right]
		switch {
		case lnum && rnum:
			w.write(inc, fmt.Sprintf("Because %s and %s, %s.", w.ref(left), w.ref(right), text), numbered)
		case lnum || rnum:
			with, without := left, right
			if rnum {
				with, without = right, left
			}
			w.visit(without, false)
			w.write(inc, fmt.Sprintf("And because %s, %s.", w.ref(with), text), numbered)
		case w.singleLine(left) || w.singleLine(right):
			first, second := left, right
			if w.singleLine(left) {
				first, second = right, left
			}
			w.visit(first, false)
			w.visit(second, false)
			w.write(inc, fmt.Sprintf("Thus, %s.", text), numbered)
		default:
			w.visit(left, true)
			w.out = append(w.out, line{})
			w.visit(right, false)
			w.write(inc, fmt.Sprintf("And because %s, %s.", w.ref(left), text), numbered)
		}
	case ld || rd:
		derived, ext := left, right
		if rd {
			derived, ext = right, left
		}
		switch {
		case w.numbers[derived] > 0:
			w.write(inc, fmt.Sprintf("Because %s and %s, %s.", w.external(ext), w.ref(derived), text), numbered)
		case w.collapsible(derived):
			inner, innerExt := derived.cause.left, derived.cause.right
			if innerExt.cause.kind == kindDerived {
				inner, innerExt = innerExt, inner
			}
			w.visit(inner, false)
			w.write(inc, fmt.Sprintf("And because %s, %s.", w.both(innerExt, ext), text), numbered)
		default:
			w.visit(derived, false)
			w.write(inc, fmt.Sprintf("And because %s, %s.", w.external(ext), text), numbered)
		}
	default:
		w.write(inc, fmt.Sprintf("Because %s, %s.", w.both(left, right), text), numbered)
	}
}

// singleLine reports whether inc is derived from two external facts.
func (w *writer) singleLine(inc *incompat) bool {
	return inc.cause.left.cause.kind != kindDerived && inc.cause.right.cause.kind != kindDerived
}

// collapsible reports whether a derived fact used once, derived from one
// external fact and one unnumbered derived fact, can fold into the sentence
// that uses it.
func (w *writer) collapsible(inc *incompat) bool {
	if w.derivations[inc] > 1 {
		return false
	}
	l, r := inc.cause.left, inc.cause.right
	if (l.cause.kind == kindDerived) == (r.cause.kind == kindDerived) {
		return false
	}
	derived := l
	if r.cause.kind == kindDerived {
		derived = r
	}
	return w.numbers[derived] == 0
}

// both joins two external facts, merging "you asked for a and you asked
// for b" into "you asked for a and b", and likewise two dependencies of the
// same versions.
func (w *writer) both(a, b *incompat) string {
	if b.cause.kind == kindRequire && a.cause.kind != kindRequire {
		a, b = b, a
	}
	ta, tb := w.external(a), w.external(b)
	const asked = "you asked for "
	if strings.HasPrefix(ta, asked) && strings.HasPrefix(tb, asked) {
		return ta + " and " + strings.TrimPrefix(tb, asked)
	}
	if a.cause.kind == kindDependency && b.cause.kind == kindDependency {
		fa, fb := phrase(a.cause.from.p, a.cause.from.set), phrase(b.cause.from.p, b.cause.from.set)
		prefix := fa + " depends on "
		if fa == fb && strings.HasPrefix(tb, prefix) {
			return ta + " and " + strings.TrimPrefix(tb, prefix)
		}
	}
	return ta + " and " + tb
}

// external describes a fact that comes from the request or the source.
func (w *writer) external(inc *incompat) string {
	c := inc.cause
	if c.kind == kindUnknownRequire {
		w.unknown = true
	}
	return w.s.fact(inc)
}

// lines renders the output, numbers in front, other lines indented to match.
func (w *writer) lines() []string {
	pad := 0
	if len(w.numbers) > 0 {
		pad = len(fmt.Sprintf("(%d) ", len(w.numbers)))
	}
	out := make([]string, len(w.out))
	for i, l := range w.out {
		switch {
		case l.text == "":
		case l.number > 0:
			n := fmt.Sprintf("(%d) ", l.number)
			out[i] = n + strings.Repeat(" ", pad-len(n)) + l.text
		default:
			out[i] = strings.Repeat(" ", pad) + l.text
		}
	}
	if last := len(out) - 1; last > 0 {
		t := strings.TrimLeft(out[last], " ")
		for _, from := range []string{"And because ", "Because ", "Thus, "} {
			if strings.HasPrefix(t, from) {
				t = "So, " + strings.TrimPrefix(t, from)
				if from != "Thus, " {
					t = "So, because " + strings.TrimPrefix(t, "So, ")
				}
				break
			}
		}
		out[last] = strings.Repeat(" ", pad) + t
	}
	return out
}
