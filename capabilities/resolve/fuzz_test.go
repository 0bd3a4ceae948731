package resolve

import (
	"errors"
	"testing"
)

// FuzzResolve decodes a small registry and request from data (each byte a
// choice, zero once exhausted), with rng and ver as one more range and
// version the registry may use, and checks that Resolve does not panic and
// that its answer agrees with brute force.
func FuzzResolve(f *testing.F) {
	f.Add([]byte{3, 1, 2, 0, 5, 1, 2, 3}, "", "")
	f.Add([]byte{255, 255, 255, 255, 255, 255, 255}, ">=0.0.0 <999999999999.0.0 || ^1 || ~2 || 3.x", "99999999999999999999.0.0")
	f.Add([]byte{1, 0, 0, 0, 1, 2}, "not a range", "1.0")
	f.Add([]byte{4, 0, 3, 1, 1, 0, 14, 0, 1}, "*", "v1.0.0")
	f.Add([]byte{0, 0, 0, 0, 2, 0, 0}, "=1.0.0", "1.0.0-alpha+build.5")
	f.Fuzz(func(t *testing.T, data []byte, rng, ver string) {
		pick := func(n int) int {
			if n <= 0 || len(data) == 0 {
				return 0
			}
			b := int(data[0])
			data = data[1:]
			return b % n
		}
		sc := genScenario(pick, rng, ver)
		plan, err := sc.resolve()
		if errors.Is(err, ErrInvalid) {
			return
		}
		if !validData(sc) {
			if err == nil && plan == nil {
				t.Fatal("nil plan without error")
			}
			return
		}
		checkResult(t, sc, plan, err, newRules(sc).bruteForce())
	})
}

// validData reports whether every version and range in sc parses, so that
// brute force can judge it.
func validData(sc scenario) bool {
	for _, list := range sc.src {
		for _, v := range list {
			if !parses(v.Version) {
				return false
			}
			for _, d := range v.Dependencies {
				if !rangeParses(d.Range) {
					return false
				}
			}
		}
	}
	for _, q := range sc.req.Requirements {
		if !rangeParses(q.Range) {
			return false
		}
	}
	return true
}
