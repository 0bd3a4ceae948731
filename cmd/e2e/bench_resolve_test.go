package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/capcenter/capcenter/capabilities/resolve"
)

// BenchmarkResolveScale resolves synthetic registries of 100, 1 000 and
// 10 000 capabilities × 20 versions with random constraints (a fixed seed),
// in process, and records the median of a few runs at each size with its
// growth over the size before. There is no peer: the goal is an absolute
// time at 1 000 and near-linear growth.
func BenchmarkResolveScale(b *testing.B) {
	var prev time.Duration
	prevN := 0
	for _, n := range []int{100, 1000, 10000} {
		src, req := resolve.Synthetic(n, 20, 1)
		b.Run(fmt.Sprintf("packages=%d", n), func(b *testing.B) {
			var runs []time.Duration
			for range 5 {
				start := time.Now()
				if _, err := resolve.Resolve(context.Background(), src, req); err != nil && !isNoSolution(err) {
					b.Fatal(err)
				}
				runs = append(runs, time.Since(start))
			}
			slices.Sort(runs)
			median := runs[len(runs)/2]
			b.ReportMetric(float64(median.Microseconds())/1000, "ms/resolve")
			growth := "-"
			if prev > 0 {
				growth = fmt.Sprintf("%.1f× for %d× the packages", float64(median)/float64(prev), n/prevN)
			}
			goal := "-"
			if n == 1000 {
				goal = "< 50 ms: " + met(median < 50*time.Millisecond)
			}
			record(fmt.Sprintf("resolve, %d capabilities × 20 versions (ms)", n), fmt.Sprintf("%.1f (growth %s)", float64(median.Microseconds())/1000, growth), "-", goal)
			prev, prevN = median, n
		})
	}
}

func isNoSolution(err error) bool { return errors.Is(err, resolve.ErrNoSolution) }
