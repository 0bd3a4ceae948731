package embedded

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"

	"github.com/capcenter/capcenter/store"
	"github.com/capcenter/capcenter/store/storetest"
)

// mustOpen opens a store in dir and closes it when the test ends.
func mustOpen(tb testing.TB, dir string, opts Options) *Store {
	tb.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		tb.Fatalf("Open(%s): %v", dir, err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

func openEmpty(t *testing.T) store.Store { return mustOpen(t, t.TempDir(), Options{}) }

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, openEmpty)
}

func TestReindexWithoutIndexFile(t *testing.T) {
	t.Parallel()
	storetest.RunReindex(t, openEmpty, func(t *testing.T, s store.Store) store.Store {
		dir := s.(*Store).dir
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(dir, "index.db")); err != nil {
			t.Fatal(err)
		}
		fresh := mustOpen(t, dir, Options{})
		if p, err := fresh.ListCapabilities(t.Context(), store.Query{}); err != nil || p.Total != 0 {
			t.Fatalf("fresh index lists %d capabilities, %v; want none", p.Total, err)
		}
		if err := fresh.Reindex(t.Context(), storetest.Describe); err != nil {
			t.Fatalf("Reindex: %v", err)
		}
		return fresh
	})
}

func TestReopenPersists(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	p := storetest.Publication(t, store.Version{Name: "webservice", Version: "1.0.0", Kind: "component"})
	want, _, err := s.Publish(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if want, err = s.SetState(t.Context(), "webservice", "1.0.0", store.StateChange{Deprecate: true, Message: "old"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, dir, Options{})
	got, err := s.GetVersion(t.Context(), "webservice", "latest")
	if err != nil || got.Digest != want.Digest || !got.Created.Equal(want.Created) || !got.Deprecated {
		t.Errorf("after reopen GetVersion = %+v, %v; want %+v", got, err, want)
	}
	if _, created, err := s.Publish(t.Context(), p); err != nil || created {
		t.Errorf("republish after reopen = created %v, %v; want a no-op", created, err)
	}
}

func TestSecondOpenFails(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mustOpen(t, dir, Options{})
	start := time.Now()
	s, err := Open(dir, Options{LockTimeout: 100 * time.Millisecond})
	if err == nil {
		_ = s.Close()
		t.Fatal("second Open of the same dir succeeded")
	}
	if elapsed := time.Since(start); !strings.Contains(err.Error(), "locked") || elapsed > 2*time.Second {
		t.Errorf("second Open = %v after %s; want a lock error within the timeout", err, elapsed)
	}
}

func TestPublishRefusesOtherArtifactType(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, t.TempDir(), Options{ArtifactType: "application/vnd.example.other"})
	p := storetest.Publication(t, store.Version{Name: "webservice", Version: "1.0.0"})
	if _, _, err := s.Publish(t.Context(), p); !errors.Is(err, store.ErrInvalidArgument) {
		t.Errorf("Publish of a capability into a store of another type = %v, want ErrInvalidArgument", err)
	}
}

// seed indexes caps capabilities of vers versions each straight into
// bbolt, without content, and reloads the catalog: a fast way to a big
// index for benchmarks.
func seed(tb testing.TB, s *Store, caps, vers int) {
	tb.Helper()
	created := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	kinds := []string{"component", "trait", "policy"}
	const batch = 20000
	for start := 0; start < caps*vers; start += batch {
		err := s.db.Update(func(tx *bolt.Tx) error {
			for i := start; i < min(start+batch, caps*vers); i++ {
				c, v := i/vers, i%vers
				name := fmt.Sprintf("cap-%05d", c)
				version := fmt.Sprintf("1.%d.0", v)
				e := entry{Version: store.Version{
					Name: name, Version: version, Kind: kinds[c%3],
					Description: fmt.Sprintf("Capability number %d of the benchmark", c),
					Keywords:    []string{fmt.Sprintf("keyword%d", c%100), "bench"},
					Digest:      digest.FromString(name + "@" + version).String(), Size: 1000,
					Created: created.Add(time.Duration(i) * time.Second),
				}}
				if err := writeVersion(tx, e); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		c, err := loadCatalog(tx)
		if err == nil {
			s.catalog.replace(c)
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
}

func BenchmarkPublish(b *testing.B) {
	for _, existing := range []int{1000, 100000} {
		b.Run(fmt.Sprintf("existing=%d", existing), func(b *testing.B) {
			s := mustOpen(b, b.TempDir(), Options{})
			seed(b, s, existing/10, 10)
			i := 0
			var spent time.Duration
			for b.Loop() {
				b.StopTimer()
				p := storetest.Publication(b, store.Version{Name: fmt.Sprintf("new-%d", i%1000), Version: fmt.Sprintf("1.0.%d", i)})
				i++
				b.StartTimer()
				start := time.Now()
				if _, _, err := s.Publish(b.Context(), p); err != nil {
					b.Fatal(err)
				}
				spent += time.Since(start)
			}
			b.ReportMetric(float64(i)/spent.Seconds(), "publishes/s")
		})
	}
}

// BenchmarkPublishParallel publishes with 8 in flight, the case where
// concurrent publishes can share an index commit.
func BenchmarkPublishParallel(b *testing.B) {
	s := mustOpen(b, b.TempDir(), Options{})
	const n = 8
	pubs := make([]store.Publication, 0, 400)
	for i := range cap(pubs) {
		pubs = append(pubs, storetest.Publication(b, store.Version{Name: fmt.Sprintf("par-%d", i%50), Version: fmt.Sprintf("1.0.%d", i)}))
	}
	var next atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(pubs)) {
					return
				}
				if _, _, err := s.Publish(b.Context(), pubs[i]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(len(pubs))/time.Since(start).Seconds(), "publishes/s")
}

func BenchmarkListCapabilities(b *testing.B) {
	s := mustOpen(b, b.TempDir(), Options{})
	seed(b, s, 10000, 10)
	queries := []store.Query{
		{},
		{Text: "number 42"},
		{Kind: "trait", OrderBy: "updated desc"},
		{Keyword: "keyword7", OrderBy: "name desc"},
		{Text: "BENCH capability", PageRequest: store.PageRequest{Size: 100}},
	}
	var took []time.Duration
	for b.Loop() {
		q := queries[len(took)%len(queries)]
		start := time.Now()
		p, err := s.ListCapabilities(b.Context(), q)
		took = append(took, time.Since(start))
		if err != nil || p.Total == 0 {
			b.Fatalf("ListCapabilities(%+v) = %d matches, %v", q, p.Total, err)
		}
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
}
