package storetest

import (
	"fmt"
	"slices"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/capcenter/capcenter/store"
)

func testPublishGetList(t *testing.T, s store.Store) {
	ctx := t.Context()
	in := ver("webservice", "1.0.0", "component", "Long-running web service", "http", "web")
	in.Dependencies = []store.Dependency{{Name: "gateway", Range: "^1.0.0"}}
	in.Kubernetes, in.AppliesTo = ">=1.30.0", []string{"deployments.apps"}
	p := Publication(t, in)
	got, created, err := s.Publish(ctx, p)
	if err != nil || !created {
		t.Fatalf("Publish = created %v, %v; want created", created, err)
	}
	if got.Digest != p.Manifest.Digest.String() || got.Size <= p.Manifest.Size || got.Created.IsZero() {
		t.Errorf("Publish = digest %s size %d created %v; want digest %s, size over the manifest's %d, a time",
			got.Digest, got.Size, got.Created, p.Manifest.Digest, p.Manifest.Size)
	}
	want := in
	want.Digest, want.Size, want.Created = got.Digest, got.Size, got.Created
	if !sameVersion(got, want) {
		t.Errorf("Publish returned\n%+v\nwant\n%+v", got, want)
	}
	stored, err := s.GetVersion(ctx, "webservice", "1.0.0")
	if err != nil || !sameVersion(stored, want) {
		t.Errorf("GetVersion = %+v, %v; want %+v", stored, err, want)
	}
	second := publish(t, s, ver("webservice", "1.1.0", "component", "Web service, now with TLS", "http"))
	vs := allVersions(t, s, "webservice", 0)
	if got := versions(vs); !slices.Equal(got, []string{"1.1.0", "1.0.0"}) {
		t.Errorf("ListVersions = %v, want [1.1.0 1.0.0]", got)
	}
	c, err := s.GetCapability(ctx, "webservice")
	wantCap := store.Capability{
		Name: "webservice", Kind: "component", Description: "Web service, now with TLS",
		Keywords: []string{"http"}, Latest: "1.1.0", Versions: 2, Updated: second.Created,
	}
	if err != nil || !sameCapability(c, wantCap) {
		t.Errorf("GetCapability = %+v, %v; want %+v", c, err, wantCap)
	}
	all := allCapabilities(t, s, store.Query{})
	if len(all) != 1 || !sameCapability(all[0], wantCap) {
		t.Errorf("ListCapabilities = %+v, want [%+v]", all, wantCap)
	}
}

// sameCapability compares summaries, times by instant.
func sameCapability(a, b store.Capability) bool {
	return a.Name == b.Name && a.Kind == b.Kind && a.Description == b.Description &&
		slices.Equal(a.Keywords, b.Keywords) && a.Latest == b.Latest && a.Versions == b.Versions &&
		a.Updated.Equal(b.Updated)
}

func testRepublish(t *testing.T, s store.Store) {
	p := Publication(t, ver("worker", "1.0.0", "component", "Background worker"))
	first, created, err := s.Publish(t.Context(), p)
	if err != nil || !created {
		t.Fatalf("first Publish = created %v, %v", created, err)
	}
	again, created, err := s.Publish(t.Context(), p)
	if err != nil || created {
		t.Fatalf("second Publish = created %v, %v; want created false, no error", created, err)
	}
	if !sameVersion(again, first) {
		t.Errorf("second Publish returned %+v, want the stored %+v", again, first)
	}
	if c, err := s.GetCapability(t.Context(), "worker"); err != nil || c.Versions != 1 {
		t.Errorf("GetCapability = %+v, %v; want 1 version", c, err)
	}
}

func testAlreadyExists(t *testing.T, s store.Store) {
	first := publish(t, s, ver("task", "1.0.0", "component", "Run to completion"))
	other := ver("task", "1.0.0", "component", "Run to completion, changed")
	_, created, err := s.Publish(t.Context(), Publication(t, other))
	wantErr(t, "Publish of other content", err, store.ErrAlreadyExists)
	if created || !contains(err, first.Digest) {
		t.Errorf("Publish = created %v, %v; want an error naming %s", created, err, first.Digest)
	}
	if got, err := s.GetVersion(t.Context(), "task", "1.0.0"); err != nil || got.Digest != first.Digest {
		t.Errorf("GetVersion = %s, %v; want the first digest %s", got.Digest, err, first.Digest)
	}
}

func testInvalidPublication(t *testing.T, s store.Store) {
	good := Publication(t, ver("hpa", "1.0.0", "trait", "Autoscaler"))
	tests := []struct {
		name   string
		mutate func(p *store.Publication)
	}{
		{"empty name", func(p *store.Publication) { p.Version.Name = "" }},
		{"not semver", func(p *store.Publication) { p.Version.Version = "one" }},
		{"not a manifest", func(p *store.Publication) { p.Manifest.MediaType = "text/plain" }},
		{"foreign artifact", func(p *store.Publication) {
			*p = pack(t, p.Version, "application/vnd.example.other")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := good
			tt.mutate(&p)
			_, _, err := s.Publish(t.Context(), p)
			wantErr(t, "Publish", err, store.ErrInvalidArgument)
		})
	}
	if _, err := s.GetCapability(t.Context(), "hpa"); err == nil {
		t.Error("GetCapability(hpa) found a capability no valid publish created")
	}
}

func testAtomic(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := Publication(t, ver("gateway", "1.0.0", "trait", "Route traffic"))
	blobs := layers(t, p)
	for _, fail := range []ocispec.Descriptor{blobs[len(blobs)-1], p.Manifest} {
		broken := p
		broken.Content = failingFetcher{Fetcher: p.Content, fail: fail.Digest}
		if _, _, err := s.Publish(ctx, broken); err == nil {
			t.Fatalf("Publish with %s failing succeeded", fail.MediaType)
		}
		_, err := s.GetVersion(ctx, "gateway", "1.0.0")
		wantErr(t, "GetVersion after a failed publish", err, store.ErrNotFound)
		_, err = s.GetCapability(ctx, "gateway")
		wantErr(t, "GetCapability after a failed publish", err, store.ErrNotFound)
		_, err = s.ListVersions(ctx, "gateway", store.PageRequest{})
		wantErr(t, "ListVersions after a failed publish", err, store.ErrNotFound)
		if all := allCapabilities(t, s, store.Query{}); len(all) != 0 {
			t.Errorf("ListCapabilities after a failed publish = %v, want none", names(all))
		}
	}
	if _, created, err := s.Publish(ctx, p); err != nil || !created {
		t.Errorf("Publish after the failures = created %v, %v; want created", created, err)
	}
}

func testConcurrentSameVersion(t *testing.T, s store.Store) {
	p := Publication(t, ver("scaler", "1.0.0", "trait", "Replicas"))
	const n = 8
	results := make([]bool, n)
	errs := make([]error, n)
	run(n, func(i int) { _, results[i], errs[i] = s.Publish(t.Context(), p) })
	winners := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("Publish %d: %v", i, errs[i])
		}
		if results[i] {
			winners++
		}
	}
	if winners != 1 {
		t.Errorf("%d publishes created the version, want exactly 1", winners)
	}
}

func testConcurrentConflict(t *testing.T, s store.Store) {
	const n = 8
	pubs := make([]store.Publication, n)
	for i := range pubs {
		pubs[i] = Publication(t, ver("ingress", "1.0.0", "trait", fmt.Sprintf("variant %d", i)))
	}
	errs := make([]error, n)
	run(n, func(i int) { _, _, errs[i] = s.Publish(t.Context(), pubs[i]) })
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("publishes %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		default:
			wantErr(t, fmt.Sprintf("Publish %d", i), err, store.ErrAlreadyExists)
		}
	}
	if winner < 0 {
		t.Fatal("no publish succeeded")
	}
	got, err := s.GetVersion(t.Context(), "ingress", "1.0.0")
	if err != nil || got.Digest != pubs[winner].Manifest.Digest.String() {
		t.Errorf("GetVersion = %s, %v; want the winner's %s", got.Digest, err, pubs[winner].Manifest.Digest)
	}
}

func testConcurrentMany(t *testing.T, s store.Store) {
	const caps, vers = 4, 10
	errs := make([]error, caps*vers)
	pubs := make([]store.Publication, caps*vers)
	for i := range pubs {
		pubs[i] = Publication(t, ver(fmt.Sprintf("cap-%d", i%caps), fmt.Sprintf("1.%d.0", i/caps), "component", "many"))
	}
	run(len(pubs), func(i int) { _, _, errs[i] = s.Publish(t.Context(), pubs[i]) })
	for i, err := range errs {
		if err != nil {
			t.Errorf("Publish %d: %v", i, err)
		}
	}
	if all := allCapabilities(t, s, store.Query{Text: "many"}); len(all) != caps {
		t.Errorf("ListCapabilities = %v, want %d capabilities", names(all), caps)
	}
	for c := range caps {
		name := fmt.Sprintf("cap-%d", c)
		vs := allVersions(t, s, name, 3)
		if len(vs) != vers || vs[0].Version != fmt.Sprintf("1.%d.0", vers-1) {
			t.Errorf("ListVersions(%s) = %v, want %d versions, highest first", name, versions(vs), vers)
		}
		if got, err := s.GetCapability(t.Context(), name); err != nil || got.Versions != vers {
			t.Errorf("GetCapability(%s) = %+v, %v; want %d versions", name, got, err, vers)
		}
	}
}
