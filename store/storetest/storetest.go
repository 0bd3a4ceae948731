package storetest

import (
	"errors"
	"io"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/capcenter/capcenter/store"
)

// Opener returns a new, empty store for one test and arranges for it to be
// closed with t.Cleanup (the suite may close it first; Close is
// idempotent).
type Opener func(t *testing.T) store.Store

// Rebuilder takes a populated store and returns a store over the same
// content whose index was rebuilt from that content alone: for example
// close it, delete the index, reopen and call Reindex with Describe.
type Rebuilder func(t *testing.T, s store.Store) store.Store

// Run checks that the stores open returns meet the store.Store contract.
// Every check runs in parallel on its own store; run it with -race.
func Run(t *testing.T, open Opener) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"PublishGetList", testPublishGetList},
		{"RepublishSameDigest", testRepublish},
		{"AlreadyExists", testAlreadyExists},
		{"InvalidPublication", testInvalidPublication},
		{"Atomic", testAtomic},
		{"ConcurrentSameVersion", testConcurrentSameVersion},
		{"ConcurrentConflictingVersion", testConcurrentConflict},
		{"ConcurrentManyVersions", testConcurrentMany},
		{"Search", testSearch},
		{"Paging", testPaging},
		{"InvalidPageRequest", testInvalidPageRequest},
		{"Latest", testLatest},
		{"SetState", testSetState},
		{"NotFound", testNotFound},
		{"Fetch", testFetch},
		{"ContextCanceled", testCanceled},
		{"Closed", testClosed},
		{"ReindexInPlace", testReindexInPlace},
		{"PublishReferrers", testPublishReferrers},
		{"PublishReferrersAtomic", testPublishReferrersAtomic},
		{"RepublishReferrers", testRepublishReferrers},
		{"AddReferrer", testAddReferrer},
		{"ConcurrentAddReferrer", testConcurrentAddReferrer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, open(t))
		})
	}
}

// RunReindex checks that a store rebuilt from its content answers every
// query as the original did, state changes and referrers included.
func RunReindex(t *testing.T, open Opener, rebuild Rebuilder) {
	t.Helper()
	s := open(t)
	seedCatalog(t, s)
	want := snapshot(t, s)
	if n := referrerCounts(want.versions["signed"]); !slices.Equal(n, []int{1, 3}) {
		t.Fatalf("seeded signed versions have %v referrers, want [1 3]", n)
	}
	got := snapshot(t, rebuild(t, s))
	compareSnapshots(t, got, want)
}

// ver is a fixture version with the catalog fields most tests need.
func ver(name, version, kind, description string, keywords ...string) store.Version {
	return store.Version{
		Name: name, Version: version, Kind: kind, Description: description, Keywords: keywords,
		Readme: "Docs for " + name, Source: "https://example.com/" + name,
		ParameterSchema: []byte(`{"type":"object"}`),
	}
}

// publish publishes a fixture and fails t on error.
func publish(t *testing.T, s store.Store, v store.Version) store.Version {
	t.Helper()
	got, _, err := s.Publish(t.Context(), Publication(t, v))
	if err != nil {
		t.Fatalf("Publish(%s@%s): %v", v.Name, v.Version, err)
	}
	return got
}

// wantErr fails t unless err wraps target.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want one wrapping %v", what, err, target)
	}
}

// allCapabilities pages through a query and fails t on duplicates or a
// Total that changes between pages.
func allCapabilities(t *testing.T, s store.Store, q store.Query) []store.Capability {
	t.Helper()
	var all []store.Capability
	seen := map[string]bool{}
	total := -1
	for page := 0; ; page++ {
		p, err := s.ListCapabilities(t.Context(), q)
		if err != nil {
			t.Fatalf("ListCapabilities(%+v) page %d: %v", q, page, err)
		}
		if total >= 0 && p.Total != total {
			t.Errorf("ListCapabilities(%+v) page %d: Total %d, page 0 said %d", q, page, p.Total, total)
		}
		total = p.Total
		for _, c := range p.Items {
			if seen[c.Name] {
				t.Errorf("ListCapabilities(%+v): %s on two pages", q, c.Name)
			}
			seen[c.Name] = true
		}
		all = append(all, p.Items...)
		if p.Next == "" {
			break
		}
		if page > 1000 {
			t.Fatalf("ListCapabilities(%+v): more than 1000 pages", q)
		}
		q.Token = p.Next
	}
	if total != len(all) {
		t.Errorf("ListCapabilities(%+v): Total %d, paged through %d", q, total, len(all))
	}
	return all
}

// allVersions pages through a capability's versions.
func allVersions(t *testing.T, s store.Store, name string, size int) []store.Version {
	t.Helper()
	var all []store.Version
	pr := store.PageRequest{Size: size}
	for {
		p, err := s.ListVersions(t.Context(), name, pr)
		if err != nil {
			t.Fatalf("ListVersions(%s): %v", name, err)
		}
		if p.Total < len(all)+len(p.Items) {
			t.Errorf("ListVersions(%s): Total %d below %d items seen", name, p.Total, len(all)+len(p.Items))
		}
		all = append(all, p.Items...)
		if p.Next == "" {
			return all
		}
		pr.Token = p.Next
	}
}

// referrerCounts lists how many referrers each version has, in order.
func referrerCounts(vs []store.Version) []int {
	out := make([]int, 0, len(vs))
	for _, v := range vs {
		out = append(out, len(v.Referrers))
	}
	return out
}

// names lists capability names in order.
func names(cs []store.Capability) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

// versions lists version strings in order.
func versions(vs []store.Version) []string {
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		out = append(out, v.Version)
	}
	return out
}

// sameVersion compares versions, treating empty and nil slices alike and
// times by instant.
func sameVersion(a, b store.Version) bool {
	if !a.Created.Equal(b.Created) {
		return false
	}
	a.Created = b.Created
	return reflect.DeepEqual(normalize(a), normalize(b))
}

func normalize(v store.Version) store.Version {
	if len(v.Keywords) == 0 {
		v.Keywords = nil
	}
	if len(v.AppliesTo) == 0 {
		v.AppliesTo = nil
	}
	if len(v.Dependencies) == 0 {
		v.Dependencies = nil
	}
	if len(v.ParameterSchema) == 0 {
		v.ParameterSchema = nil
	}
	if len(v.Referrers) == 0 {
		v.Referrers = nil
	}
	return v
}

// readAll reads and closes rc.
func readAll(rc io.ReadCloser) ([]byte, error) {
	defer rc.Close()
	return io.ReadAll(rc)
}

// run runs fn in n goroutines and waits.
func run(n int, fn func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { fn(i) })
	}
	wg.Wait()
}

// contains reports whether err's message names s.
func contains(err error, s string) bool {
	return err != nil && strings.Contains(err.Error(), s)
}
