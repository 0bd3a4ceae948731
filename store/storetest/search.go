package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"testing"

	"github.com/capcenter/capcenter/store"
)

// seedSearch publishes a small catalog, one capability after another.
func seedSearch(t *testing.T, s store.Store) {
	t.Helper()
	vs := []store.Version{
		ver("webservice", "1.0.0", "component", "Long-running HTTP service", "http", "web"),
		ver("worker", "1.0.0", "component", "Background worker without network", "queue"),
		ver("task", "1.0.0", "component", "Run a Job to completion", "batch"),
		ver("hpa", "1.0.0", "trait", "Horizontal pod autoscaler for web workloads", "scaling", "http"),
		ver("gateway", "1.0.0", "trait", "Expose HTTP routes through a Gateway", "http", "network"),
		ver("topology", "1.0.0", "policy", "Spread across clusters", "multicluster"),
	}
	for _, v := range vs {
		publish(t, s, v)
	}
}

func testSearch(t *testing.T, s store.Store) {
	seedSearch(t, s)
	all := allCapabilities(t, s, store.Query{})
	byUpdated := slices.Clone(all)
	slices.SortStableFunc(byUpdated, func(a, b store.Capability) int {
		return cmp.Or(a.Updated.Compare(b.Updated), cmp.Compare(a.Name, b.Name))
	})
	updated := names(byUpdated)
	updatedDesc := slices.Clone(updated)
	slices.Reverse(updatedDesc)
	tests := []struct {
		name string
		q    store.Query
		want []string
	}{
		{"everything by name", store.Query{}, []string{"gateway", "hpa", "task", "topology", "webservice", "worker"}},
		{"name desc", store.Query{OrderBy: "name desc"}, []string{"worker", "webservice", "topology", "task", "hpa", "gateway"}},
		{"updated", store.Query{OrderBy: "updated"}, updated},
		{"updated desc", store.Query{OrderBy: "updated desc"}, updatedDesc},
		{"one word in description or keywords", store.Query{Text: "http"}, []string{"gateway", "hpa", "webservice"}},
		{"case-insensitive", store.Query{Text: "hTTp"}, []string{"gateway", "hpa", "webservice"}},
		{"all words must occur", store.Query{Text: "HTTP gateway"}, []string{"gateway"}},
		{"word in name or description", store.Query{Text: "web"}, []string{"hpa", "webservice"}},
		{"extra whitespace", store.Query{Text: "  spread \t clusters "}, []string{"topology"}},
		{"kind", store.Query{Kind: "trait"}, []string{"gateway", "hpa"}},
		{"keyword", store.Query{Keyword: "http"}, []string{"gateway", "hpa", "webservice"}},
		{"keyword is exact", store.Query{Keyword: "HTTP"}, nil},
		{"kind and text", store.Query{Kind: "component", Text: "run"}, []string{"task", "webservice"}},
		{"kind, keyword and order", store.Query{Kind: "trait", Keyword: "http", OrderBy: "name desc"}, []string{"hpa", "gateway"}},
		{"no match", store.Query{Text: "nothing-matches-this"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := s.ListCapabilities(t.Context(), tt.q)
			if err != nil {
				t.Fatalf("ListCapabilities(%+v): %v", tt.q, err)
			}
			if got := names(p.Items); !slices.Equal(got, tt.want) || p.Total != len(tt.want) || p.Next != "" {
				t.Errorf("ListCapabilities(%+v) = %v (Total %d, Next %q), want %v", tt.q, got, p.Total, p.Next, tt.want)
			}
		})
	}
}

func testPaging(t *testing.T, s store.Store) {
	const n = 23
	for i := range n {
		kind := []string{"component", "trait", "policy"}[i%3]
		publish(t, s, ver(fmt.Sprintf("pkg-%02d", i), "1.0.0", kind, fmt.Sprintf("package number %d", i)))
	}
	queries := []store.Query{
		{}, {OrderBy: "name desc"}, {OrderBy: "updated"}, {OrderBy: "updated desc"},
		{Kind: "trait"}, {Text: "package", OrderBy: "updated desc"},
	}
	for _, q := range queries {
		t.Run(fmt.Sprintf("%+v", q), func(t *testing.T) {
			t.Parallel()
			whole, err := s.ListCapabilities(t.Context(), q)
			if err != nil {
				t.Fatal(err)
			}
			for _, size := range []int{1, 5, 7, n, store.MaxPageSize + 1} {
				q := q
				q.Size = size
				if got := names(allCapabilities(t, s, q)); !slices.Equal(got, names(whole.Items)) {
					t.Errorf("paged by %d: %v\nwant %v", size, got, names(whole.Items))
				}
			}
			first, err := s.ListCapabilities(t.Context(), store.Query{Text: q.Text, Kind: q.Kind, OrderBy: q.OrderBy, PageRequest: store.PageRequest{Size: 5}})
			if err != nil || len(first.Items) != min(5, whole.Total) || (whole.Total > 5) != (first.Next != "") {
				t.Errorf("first page of 5 = %d items, Next %q, %v; of %d matches", len(first.Items), first.Next, err, whole.Total)
			}
		})
	}
	p, err := s.ListCapabilities(t.Context(), store.Query{})
	if err != nil || len(p.Items) != n || p.Total != n {
		t.Errorf("default page = %d items (Total %d), %v; want all %d", len(p.Items), p.Total, err, n)
	}
}

func testInvalidPageRequest(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, v := range []string{"1.0.0", "1.1.0", "1.2.0"} {
		publish(t, s, ver("alpha", v, "component", "first"))
	}
	publish(t, s, ver("beta", "1.0.0", "trait", "second"))
	publish(t, s, ver("gamma", "1.0.0", "trait", "third"))
	capPage, err := s.ListCapabilities(ctx, store.Query{PageRequest: store.PageRequest{Size: 1}})
	if err != nil || capPage.Next == "" {
		t.Fatalf("ListCapabilities size 1 = Next %q, %v; want a token", capPage.Next, err)
	}
	verPage, err := s.ListVersions(ctx, "alpha", store.PageRequest{Size: 1})
	if err != nil || verPage.Next == "" {
		t.Fatalf("ListVersions size 1 = Next %q, %v; want a token", verPage.Next, err)
	}
	capTests := []struct {
		name string
		q    store.Query
		want string
	}{
		{"garbage token", store.Query{PageRequest: store.PageRequest{Token: "%%%not a token"}}, "page_token"},
		{"base64 but not a token", store.Query{PageRequest: store.PageRequest{Token: "bm90LWpzb24"}}, "page_token"},
		{"token of another query", store.Query{Kind: "trait", PageRequest: store.PageRequest{Token: capPage.Next}}, "page_token"},
		{"token of another ordering", store.Query{OrderBy: "name desc", PageRequest: store.PageRequest{Token: capPage.Next}}, "page_token"},
		{"token of ListVersions", store.Query{PageRequest: store.PageRequest{Token: verPage.Next}}, "page_token"},
		{"negative size", store.Query{PageRequest: store.PageRequest{Size: -1}}, "page_size"},
		{"unknown order", store.Query{OrderBy: "popularity"}, "order_by"},
	}
	for _, tt := range capTests {
		_, err := s.ListCapabilities(ctx, tt.q)
		wantErr(t, "ListCapabilities "+tt.name, err, store.ErrInvalidArgument)
		if !contains(err, tt.want) {
			t.Errorf("ListCapabilities %s: error %v does not name %s", tt.name, err, tt.want)
		}
	}
	verTests := []struct {
		name, capability string
		pr               store.PageRequest
	}{
		{"garbage token", "alpha", store.PageRequest{Token: "%%%"}},
		{"token of another capability", "beta", store.PageRequest{Token: verPage.Next}},
		{"token of ListCapabilities", "alpha", store.PageRequest{Token: capPage.Next}},
		{"negative size", "alpha", store.PageRequest{Size: -5}},
	}
	for _, tt := range verTests {
		_, err := s.ListVersions(ctx, tt.capability, tt.pr)
		wantErr(t, "ListVersions "+tt.name, err, store.ErrInvalidArgument)
	}
	if got := versions(allVersions(t, s, "alpha", 1)); !slices.Equal(got, []string{"1.2.0", "1.1.0", "1.0.0"}) {
		t.Errorf("ListVersions(alpha) by 1 = %v", got)
	}
}
