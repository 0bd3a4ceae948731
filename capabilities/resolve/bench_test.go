package resolve

import (
	"context"
	"fmt"
	"testing"
)

func BenchmarkResolve(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("packages=%d", n), func(b *testing.B) {
			src, req := Synthetic(n, 20, 1)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Resolve(ctx, src, req); err != nil {
					b.Fatal(err)
				}
			}
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
