package resolve

import "math/bits"

// A bitset is a set of version indexes of one capability. Every bitset of a
// capability has the same length: one bit per known version plus one more,
// the last, that stands for "not selected at all". With that extra bit a
// PubGrub term is a plain set: "foo ^1" excludes the extra bit, "not foo ^1"
// includes it, and every relation between terms is a set operation.
//
// Bitsets are values once built: operations return new sets and never
// modify their operands.
type bitset []uint64

// newBitset returns an empty set able to hold n bits.
func newBitset(n int) bitset { return make(bitset, (n+63)/64) }

// fullBitset returns the set of all n bits.
func fullBitset(n int) bitset {
	b := newBitset(n)
	for i := range n {
		b.set(i)
	}
	return b
}

// singleton returns the set {i} able to hold n bits.
func singleton(n, i int) bitset {
	b := newBitset(n)
	b.set(i)
	return b
}

func (b bitset) set(i int)      { b[i/64] |= 1 << (uint(i) % 64) }
func (b bitset) has(i int) bool { return b[i/64]&(1<<(uint(i)%64)) != 0 }

// and returns b ∩ o.
func (b bitset) and(o bitset) bitset {
	r := make(bitset, len(b))
	for i := range b {
		r[i] = b[i] & o[i]
	}
	return r
}

// minus returns b ∖ o.
func (b bitset) minus(o bitset) bitset {
	r := make(bitset, len(b))
	for i := range b {
		r[i] = b[i] &^ o[i]
	}
	return r
}

// subsetOf reports whether b ⊆ o.
func (b bitset) subsetOf(o bitset) bool {
	for i := range b {
		if b[i]&^o[i] != 0 {
			return false
		}
	}
	return true
}

// disjoint reports whether b ∩ o = ∅.
func (b bitset) disjoint(o bitset) bool {
	for i := range b {
		if b[i]&o[i] != 0 {
			return false
		}
	}
	return true
}

func (b bitset) equal(o bitset) bool {
	for i := range b {
		if b[i] != o[i] {
			return false
		}
	}
	return true
}

func (b bitset) empty() bool {
	for _, w := range b {
		if w != 0 {
			return false
		}
	}
	return true
}

func (b bitset) count() int {
	n := 0
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}

// key returns the set as a string usable as a map key.
func (b bitset) key() string {
	buf := make([]byte, 0, len(b)*8)
	for _, w := range b {
		for s := 0; s < 64; s += 8 {
			buf = append(buf, byte(w>>uint(s)))
		}
	}
	return string(buf)
}
