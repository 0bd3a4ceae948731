package embedded

import (
	"strings"

	"github.com/capcenter/capcenter/store"
)

// searchIndex is an immutable snapshot of the catalog laid out for
// scanning: summaries in name order in one slice, every search text
// concatenated into one string (so a query word is found with one
// strings.Index pass over contiguous memory rather than one call per
// capability), and the update-time order as positions into the slice.
// The catalog builds one lazily, on the first query after a change.
type searchIndex struct {
	gen       uint64
	caps      []store.Capability // name ascending
	text      string             // caps[i]'s search text is text[starts[i]:starts[i+1]]
	starts    []int
	byUpdated []int // positions in caps, (Updated, Name) ascending
}

// index returns a search index of the current catalog, building it if
// the catalog changed since the last one.
func (c *catalog) index() *searchIndex {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if si := c.search.Load(); si != nil && si.gen == c.gen {
		return si
	}
	// buildMu also guards capEntry.pos, which only builders use.
	c.buildMu.Lock()
	defer c.buildMu.Unlock()
	if si := c.search.Load(); si != nil && si.gen == c.gen {
		return si
	}
	si := &searchIndex{
		gen:       c.gen,
		caps:      make([]store.Capability, len(c.byName)),
		starts:    make([]int, len(c.byName)+1),
		byUpdated: make([]int, len(c.byUpdated)),
	}
	var text strings.Builder
	for i, ce := range c.byName {
		ce.pos = i
		si.caps[i] = ce.summary
		si.starts[i] = text.Len()
		text.WriteString(ce.text)
		text.WriteByte(0) // no query word holds NUL, so no match spans two texts
	}
	si.starts[len(c.byName)] = text.Len()
	si.text = text.String()
	for i, ce := range c.byUpdated {
		si.byUpdated[i] = ce.pos
	}
	c.search.Store(si)
	return si
}

// matchWords marks the capabilities whose text holds every word; nil
// means no words, so every capability matches.
func (si *searchIndex) matchWords(words []string) []bool {
	if len(words) == 0 {
		return nil
	}
	all := make([]bool, len(si.caps))
	one := make([]bool, len(si.caps))
	for n, w := range words {
		clear(one)
		si.matchWord(w, one)
		for i := range all {
			all[i] = one[i] && (n == 0 || all[i])
		}
	}
	return all
}

// matchWord marks the capabilities whose text holds w, jumping to the
// next text after each hit.
func (si *searchIndex) matchWord(w string, marks []bool) {
	i, from := 0, 0
	for {
		at := strings.Index(si.text[from:], w)
		if at < 0 {
			return
		}
		at += from
		for si.starts[i+1] <= at {
			i++
		}
		marks[i] = true
		from = si.starts[i+1]
	}
}

// order returns the positions of caps in the query's order.
func (si *searchIndex) order(order string) func(yield func(int) bool) {
	byUpdated := order == orderUpdated || order == orderUpdateDesc
	desc := order == orderNameDesc || order == orderUpdateDesc
	return func(yield func(int) bool) {
		n := len(si.caps)
		for k := range n {
			if desc {
				k = n - 1 - k
			}
			i := k
			if byUpdated {
				i = si.byUpdated[k]
			}
			if !yield(i) {
				return
			}
		}
	}
}
