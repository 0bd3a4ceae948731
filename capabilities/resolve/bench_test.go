package resolve

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkResolve resolves synthetic registries of growing size and
// reports, besides time, the decisions the solver made (including those a
// backjump undid), the conflicts it resolved and the assignments it undid.
func BenchmarkResolve(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("packages=%d", n), func(b *testing.B) {
			src, req := Synthetic(n, 20, 1)
			ctx := context.Background()
			b.ReportAllocs()
			var st stats
			for b.Loop() {
				s, err := newSolver(src, req)
				if err != nil {
					b.Fatal(err)
				}
				if err := s.solve(ctx); err != nil {
					b.Fatal(err)
				}
				if _, err := s.plan(); err != nil {
					b.Fatal(err)
				}
				st = s.stats
			}
			b.ReportMetric(float64(st.decisions), "decisions")
			b.ReportMetric(float64(st.conflicts), "conflicts")
			b.ReportMetric(float64(st.undone), "undone")
		})
	}
}

func TestSynthetic(t *testing.T) {
	t.Parallel()
	for _, n := range []int{100, 500} {
		for seed := range int64(2) {
			src, req := Synthetic(n, 20, seed)
			plan, err := Resolve(context.Background(), src, req)
			if err != nil {
				t.Fatalf("packages=%d seed=%d: %v", n, seed, err)
			}
			if len(plan.Steps) == 0 {
				t.Fatalf("packages=%d seed=%d: empty plan", n, seed)
			}
		}
	}
}
