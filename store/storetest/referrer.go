package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"
	"oras.land/oras-go/v2/errdef"

	"github.com/capcenter/capcenter/store"
)

// Media types of the signature fixtures, shaped like Notary Project
// signatures without importing notation.
const (
	signatureType      = "application/vnd.cncf.notary.signature"
	mediaTypeEnvelope  = "application/jose+json"
	annotationFixture  = "io.capcenter.storetest.signer"
	signatureConfig    = "{}"
	unparsableCreation = "yesterday"
)

// signature packs a small signature of subject into dst: the empty config
// {} of the signature type, one envelope layer holding payload, and an
// image manifest whose subject is subject, annotated with created (left
// out when empty) and payload as the signer. It returns the manifest's
// descriptor and the store.Referrer a store should report for it.
func signature(tb testing.TB, dst content.Pusher, subject ocispec.Descriptor, created, payload string) (ocispec.Descriptor, store.Referrer) {
	tb.Helper()
	ctx := context.Background()
	cfg := []byte(signatureConfig)
	cfgDesc := content.NewDescriptorFromBytes(signatureType, cfg)
	env := []byte(`{"payload":"` + payload + `"}`)
	envDesc := content.NewDescriptorFromBytes(mediaTypeEnvelope, env)
	annotations := map[string]string{annotationFixture: payload}
	if created != "" {
		annotations[ocispec.AnnotationCreated] = created
	}
	subject = ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}
	raw, err := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		ArtifactType: signatureType, Config: cfgDesc, Layers: []ocispec.Descriptor{envDesc},
		Subject: &subject, Annotations: annotations,
	})
	if err != nil {
		tb.Fatal(err)
	}
	desc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, raw)
	desc.ArtifactType = signatureType
	for _, b := range []struct {
		desc ocispec.Descriptor
		data []byte
	}{{cfgDesc, cfg}, {envDesc, env}, {desc, raw}} {
		if err := dst.Push(ctx, b.desc, bytes.NewReader(b.data)); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
			tb.Fatalf("signature fixture %s: %v", payload, err)
		}
	}
	want := store.Referrer{Digest: desc.Digest.String(), Size: desc.Size, ArtifactType: signatureType, Annotations: annotations}
	return desc, want
}

// staging returns a fixture publication's content, to add signatures to.
func staging(tb testing.TB, p store.Publication) content.Storage {
	tb.Helper()
	s, ok := p.Content.(content.Storage)
	if !ok {
		tb.Fatalf("fixture content %T cannot be pushed to", p.Content)
	}
	return s
}

// sortedReferrers sorts want as every store orders referrers: RFC 3339
// created time, missing or unparsable first, then digest. The fixtures use
// only UTC times with whole seconds, which sort as strings.
func sortedReferrers(want ...store.Referrer) []store.Referrer {
	out := slices.Clone(want)
	key := func(r store.Referrer) string {
		c := r.Annotations[ocispec.AnnotationCreated]
		if c == "" || c == unparsableCreation {
			return "0" + r.Digest
		}
		return "1" + c + r.Digest
	}
	slices.SortFunc(out, func(a, b store.Referrer) int { return strings.Compare(key(a), key(b)) })
	return out
}

// checkReferrers fails t unless got lists want, in order.
func checkReferrers(t *testing.T, what string, got []store.Referrer, want []store.Referrer) {
	t.Helper()
	if !slices.EqualFunc(got, want, sameReferrer) {
		t.Errorf("%s: referrers\n%+v\nwant\n%+v", what, got, want)
	}
}

func sameReferrer(a, b store.Referrer) bool {
	return a.Digest == b.Digest && a.Size == b.Size && a.ArtifactType == b.ArtifactType &&
		maps.Equal(a.Annotations, b.Annotations)
}

func testPublishReferrers(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := Publication(t, ver("signed", "1.0.0", "component", "Signed at publish", "sig"))
	var refs []store.Referrer
	for i, created := range []string{"2030-01-02T00:00:00Z", "2030-01-01T00:00:00Z", "", unparsableCreation, "2029-12-31T23:00:00-02:00"} {
		desc, want := signature(t, staging(t, p), p.Manifest, created, fmt.Sprintf("signer-%d", i))
		p.Referrers = append(p.Referrers, desc)
		refs = append(refs, want)
	}
	p.Referrers = append(p.Referrers, p.Referrers[0]) // a duplicate counts once
	// 2029-12-31T23:00:00-02:00 is 2030-01-01T01:00:00Z: between the two others.
	want := sortedReferrers(refs[:4]...)
	want = slices.Insert(want, 3, refs[4])
	got, created, err := s.Publish(ctx, p)
	if err != nil || !created {
		t.Fatalf("Publish = created %v, %v; want created", created, err)
	}
	checkReferrers(t, "Publish", got.Referrers, want)
	stored, err := s.GetVersion(ctx, "signed", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	checkReferrers(t, "GetVersion", stored.Referrers, want)
	if vs := allVersions(t, s, "signed", 0); len(vs) != 1 {
		t.Errorf("ListVersions = %v, want one version", versions(vs))
	} else {
		checkReferrers(t, "ListVersions", vs[0].Referrers, want)
	}
	checkFetch(t, s, staging(t, p), p.Referrers[0])
	// Returned values are the caller's: changing them changes no store.
	got.Referrers[0].Annotations[annotationFixture] = "changed"
	got.Keywords[0] = "changed"
	stored.Referrers[0].Annotations[annotationFixture] = "changed"
	again, err := s.GetVersion(ctx, "signed", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	checkReferrers(t, "GetVersion after changing returned values", again.Referrers, want)
	if c, err := s.GetCapability(ctx, "signed"); err != nil || !slices.Equal(c.Keywords, []string{"sig"}) {
		t.Errorf("GetCapability after changing returned keywords = %+v, %v; want keywords [sig]", c, err)
	}
}

// checkFetch fails t unless s serves the manifest desc and every blob it
// references with the bytes src holds.
func checkFetch(t *testing.T, s store.Store, src content.Fetcher, desc ocispec.Descriptor) {
	t.Helper()
	raw, err := content.FetchAll(t.Context(), src, desc)
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, d := range append([]ocispec.Descriptor{desc, m.Config}, m.Layers...) {
		want, err := content.FetchAll(t.Context(), src, d)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := s.Fetch(t.Context(), d)
		if err != nil {
			t.Errorf("Fetch(%s %s): %v", d.MediaType, d.Digest, err)
			continue
		}
		got, err := readAll(rc)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("Fetch(%s) = %q, %v; want %q", d.MediaType, got, err, want)
		}
	}
}

func testPublishReferrersAtomic(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := Publication(t, ver("gateway", "1.0.0", "trait", "Route traffic"))
	good, want := signature(t, staging(t, p), p.Manifest, "2030-01-01T00:00:00Z", "good")
	other := Publication(t, ver("other", "1.0.0", "trait", "Another manifest"))
	foreign, _ := signature(t, staging(t, p), other.Manifest, "2030-01-01T00:00:00Z", "foreign")
	missing, _ := signature(t, memory.New(), p.Manifest, "2030-01-01T00:00:00Z", "missing blobs")
	lost, _ := signature(t, staging(t, p), p.Manifest, "2030-01-01T00:00:00Z", "lost layer")
	tests := []struct {
		name      string
		broken    func() store.Publication
		invalid   bool
		notStored ocispec.Descriptor
	}{
		{"referrer not in content", func() store.Publication {
			q := p
			q.Referrers = []ocispec.Descriptor{good, missing}
			return q
		}, false, missing},
		{"referrer layer missing", func() store.Publication {
			q := p
			q.Referrers = []ocispec.Descriptor{good, lost}
			q.Content = failingFetcher{Fetcher: p.Content, fail: layers(t, store.Publication{Manifest: lost, Content: p.Content})[1].Digest}
			return q
		}, false, lost},
		{"referrer of another manifest", func() store.Publication {
			q := p
			q.Referrers = []ocispec.Descriptor{good, foreign}
			return q
		}, true, foreign},
		{"referrer not a manifest", func() store.Publication {
			q := p
			q.Referrers = []ocispec.Descriptor{layers(t, p)[1]}
			return q
		}, true, ocispec.Descriptor{}},
	}
	for _, tt := range tests {
		_, _, err := s.Publish(ctx, tt.broken())
		if err == nil {
			t.Fatalf("%s: Publish succeeded", tt.name)
		}
		if tt.invalid {
			wantErr(t, tt.name+": Publish", err, store.ErrInvalidArgument)
		}
		_, err = s.GetVersion(ctx, "gateway", "1.0.0")
		wantErr(t, tt.name+": GetVersion after a failed publish", err, store.ErrNotFound)
		_, err = s.GetCapability(ctx, "gateway")
		wantErr(t, tt.name+": GetCapability after a failed publish", err, store.ErrNotFound)
		if tt.notStored.Digest != "" {
			_, err = s.Fetch(ctx, tt.notStored)
			wantErr(t, tt.name+": Fetch of the referrer of a failed publish", err, store.ErrNotFound)
		}
	}
	q := p
	q.Referrers = []ocispec.Descriptor{good}
	v, created, err := s.Publish(ctx, q)
	if err != nil || !created {
		t.Fatalf("Publish after the failures = created %v, %v; want created", created, err)
	}
	checkReferrers(t, "Publish after the failures", v.Referrers, []store.Referrer{want})
}

func testRepublishReferrers(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := Publication(t, ver("worker", "1.0.0", "component", "Background worker"))
	first, want := signature(t, staging(t, p), p.Manifest, "2030-01-01T00:00:00Z", "first")
	second, _ := signature(t, staging(t, p), p.Manifest, "2030-01-02T00:00:00Z", "second")
	p.Referrers = []ocispec.Descriptor{first}
	if _, created, err := s.Publish(ctx, p); err != nil || !created {
		t.Fatalf("first Publish = created %v, %v", created, err)
	}
	p.Referrers = []ocispec.Descriptor{second}
	again, created, err := s.Publish(ctx, p)
	if err != nil || created {
		t.Fatalf("second Publish = created %v, %v; want created false, no error", created, err)
	}
	checkReferrers(t, "second Publish", again.Referrers, []store.Referrer{want})
	stored, err := s.GetVersion(ctx, "worker", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	checkReferrers(t, "GetVersion after the second Publish", stored.Referrers, []store.Referrer{want})
}

func testAddReferrer(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := Publication(t, ver("webservice", "1.0.0", "component", "w"))
	publish(t, s, ver("webservice", "1.1.0", "component", "w"))
	if _, _, err := s.Publish(ctx, p); err != nil {
		t.Fatal(err)
	}
	src := memory.New()
	desc, want := signature(t, src, p.Manifest, "2030-01-01T00:00:00Z", "author")
	for i := range 2 {
		v, err := s.AddReferrer(ctx, "webservice", "1.0.0", desc, src)
		if err != nil {
			t.Fatalf("AddReferrer #%d: %v", i+1, err)
		}
		checkReferrers(t, fmt.Sprintf("AddReferrer #%d", i+1), v.Referrers, []store.Referrer{want})
		if v.Digest != p.Manifest.Digest.String() {
			t.Errorf("AddReferrer #%d returned digest %s, want %s", i+1, v.Digest, p.Manifest.Digest)
		}
	}
	checkFetch(t, s, src, desc)
	v, err := s.SetState(ctx, "webservice", "1.0.0", store.StateChange{Deprecate: true, Message: "old"})
	if err != nil {
		t.Fatal(err)
	}
	checkReferrers(t, "SetState", v.Referrers, []store.Referrer{want})

	other := Publication(t, ver("webservice", "1.1.0", "component", "w"))
	foreign, _ := signature(t, src, other.Manifest, "2030-01-01T00:00:00Z", "foreign")
	// A descriptor no src holds, so that only the size can refuse it.
	huge := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, []byte("huge"))
	huge.Size = 5 << 20
	tests := []struct {
		name, capability, version string
		desc                      ocispec.Descriptor
		target                    error
	}{
		{"wrong subject", "webservice", "1.0.0", foreign, store.ErrInvalidArgument},
		{"unknown version", "webservice", "9.9.9", desc, store.ErrNotFound},
		{"unknown capability", "nope", "1.0.0", desc, store.ErrNotFound},
		{"latest is not resolved", "webservice", "latest", desc, store.ErrNotFound},
		{"not a manifest", "webservice", "1.0.0", layers(t, p)[1], store.ErrInvalidArgument},
		{"over 4 MiB", "webservice", "1.0.0", huge, store.ErrInvalidArgument},
		{"garbage bytes", "webservice", "1.0.0", pushBytes(t, src, "garbage"), store.ErrInvalidArgument},
		{"an index", "webservice", "1.0.0", pushBytes(t, src, `{"schemaVersion":2,"mediaType":"`+ocispec.MediaTypeImageIndex+`","manifests":[]}`), store.ErrInvalidArgument},
		{"no subject", "webservice", "1.0.0", pushBytes(t, src, `{"schemaVersion":2,"mediaType":"`+ocispec.MediaTypeImageManifest+`"}`), store.ErrInvalidArgument},
	}
	for _, tt := range tests {
		_, err := s.AddReferrer(ctx, tt.capability, tt.version, tt.desc, src)
		wantErr(t, "AddReferrer: "+tt.name, err, tt.target)
	}

	// A signature whose blobs src lacks: only its manifest is copied over.
	elsewhere := memory.New()
	lost, _ := signature(t, elsewhere, p.Manifest, "2030-01-02T00:00:00Z", "lost blobs")
	raw, err := content.FetchAll(ctx, elsewhere, lost)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Push(ctx, lost, bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddReferrer(ctx, "webservice", "1.0.0", lost, src); err == nil {
		t.Error("AddReferrer of a signature whose blobs src lacks succeeded")
	}
	_, err = s.Fetch(ctx, lost)
	wantErr(t, "Fetch of a referrer that failed to add", err, store.ErrNotFound)
	for _, version := range []string{"1.0.0", "1.1.0"} {
		v, err := s.GetVersion(ctx, "webservice", version)
		if err != nil {
			t.Fatal(err)
		}
		if version == "1.0.0" {
			checkReferrers(t, "GetVersion after the failed calls", v.Referrers, []store.Referrer{want})
		} else {
			checkReferrers(t, "GetVersion of the other version", v.Referrers, nil)
		}
	}
}

// pushBytes pushes data into dst as an image manifest, without the
// memory store's parsing of it, and returns its descriptor.
func pushBytes(t *testing.T, dst content.Pusher, data string) ocispec.Descriptor {
	t.Helper()
	desc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, []byte(data))
	// The memory store indexes what a manifest references as it pushes;
	// for bytes that are no manifest that fails after storing them.
	_ = dst.Push(t.Context(), desc, strings.NewReader(data))
	return desc
}

func testConcurrentAddReferrer(t *testing.T, s store.Store) {
	p := Publication(t, ver("scaler", "1.0.0", "trait", "Replicas"))
	if _, _, err := s.Publish(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	const n = 8
	src := memory.New()
	descs := make([]ocispec.Descriptor, n)
	want := make([]store.Referrer, n)
	for i := range n {
		descs[i], want[i] = signature(t, src, p.Manifest, fmt.Sprintf("2030-01-01T00:00:%02dZ", n-i), fmt.Sprintf("co-signer-%d", i))
	}
	errs := make([]error, n)
	got := make([]store.Version, n)
	run(n, func(i int) { got[i], errs[i] = s.AddReferrer(t.Context(), "scaler", "1.0.0", descs[i], src) })
	for i := range n {
		if errs[i] != nil {
			t.Errorf("AddReferrer %d: %v", i, errs[i])
		} else if !slices.ContainsFunc(got[i].Referrers, func(r store.Referrer) bool { return r.Digest == want[i].Digest }) {
			t.Errorf("AddReferrer %d returned %+v, without its own referrer", i, got[i].Referrers)
		}
	}
	v, err := s.GetVersion(t.Context(), "scaler", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	checkReferrers(t, "GetVersion after concurrent AddReferrer", v.Referrers, sortedReferrers(want...))
}

// seedReferrers publishes a signed version and adds co-signatures to it
// and to another version, for the reindex checks.
func seedReferrers(t *testing.T, s store.Store) {
	t.Helper()
	ctx := t.Context()
	p := Publication(t, ver("signed", "1.0.0", "component", "Signed at publish", "sig"))
	server, _ := signature(t, staging(t, p), p.Manifest, "2030-01-02T00:00:00Z", "server")
	undated, _ := signature(t, staging(t, p), p.Manifest, "", "undated")
	p.Referrers = []ocispec.Descriptor{server, undated}
	if _, _, err := s.Publish(ctx, p); err != nil {
		t.Fatalf("Publish(signed@1.0.0): %v", err)
	}
	src := memory.New()
	author, _ := signature(t, src, p.Manifest, "2030-01-01T00:00:00Z", "author")
	if _, err := s.AddReferrer(ctx, "signed", "1.0.0", author, src); err != nil {
		t.Fatalf("AddReferrer(signed@1.0.0): %v", err)
	}
	later := Publication(t, ver("signed", "1.1.0", "component", "Signed later", "sig"))
	if _, _, err := s.Publish(ctx, later); err != nil {
		t.Fatalf("Publish(signed@1.1.0): %v", err)
	}
	cosign, _ := signature(t, src, later.Manifest, unparsableCreation, "co-signer")
	if _, err := s.AddReferrer(ctx, "signed", "1.1.0", cosign, src); err != nil {
		t.Fatalf("AddReferrer(signed@1.1.0): %v", err)
	}
	if _, err := s.SetState(ctx, "signed", "1.1.0", store.StateChange{Deprecate: true, Message: "signed twice"}); err != nil {
		t.Fatalf("SetState(signed@1.1.0): %v", err)
	}
}
