package server

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/capabilities/signature"
	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
)

// reframe rebuilds p after editing its config (as JSON) and its manifest,
// with descriptors that match the edited content: a well-formed stream
// carrying whatever bundle the edits make.
func reframe(t *testing.T, p packed, editConfig func(map[string]any), editManifest func(*ocispec.Manifest)) packed {
	t.Helper()
	var m ocispec.Manifest
	if err := json.Unmarshal(p.manifest, &m); err != nil {
		t.Fatal(err)
	}
	cfg := p.payload[:m.Config.Size]
	rest := p.payload[m.Config.Size:]
	if editConfig != nil {
		var fields map[string]any
		if err := json.Unmarshal(cfg, &fields); err != nil {
			t.Fatal(err)
		}
		editConfig(fields)
		var err error
		if cfg, err = json.Marshal(fields); err != nil {
			t.Fatal(err)
		}
		d := content.NewDescriptorFromBytes(m.Config.MediaType, cfg)
		m.Config.Digest, m.Config.Size = d.Digest, d.Size
	}
	if editManifest != nil {
		editManifest(&m)
	}
	manifest, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return packed{
		manifest: manifest,
		payload:  append(append([]byte{}, cfg...), rest...),
		digest:   content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, manifest).Digest.String(),
	}
}

func TestPublish(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	web := loadBuiltin(t, "webservice")
	p := pack(t, web)

	resp := mustPublish(t, h, p)
	v := resp.GetVersion()
	if !resp.GetCreated() || v.GetDigest() != p.digest || v.GetName() != "capabilities/webservice/versions/1.0.0" ||
		v.GetKind() != capcenterv1.Kind_KIND_COMPONENT || v.GetParameterSchema() == nil || v.GetReadme() == "" {
		t.Fatalf("first publish = %v", resp)
	}
	if len(v.GetDependencies()) != 1 || v.GetDependencies()[0].GetCapability() != "oam-definitions" || v.GetKubernetesRange() == "" {
		t.Errorf("dependencies or requirements lost: %v", v)
	}

	t.Run("identical again is a no-op", func(t *testing.T) {
		t.Parallel()
		resp, err := publish(ctx(t), h.client, p.manifest, p.payload, publishOptions{chunkSize: 7})
		if err != nil || resp.GetCreated() || resp.GetVersion().GetDigest() != p.digest {
			t.Fatalf("republish = %v, %v; want created=false", resp, err)
		}
	})
	t.Run("other content under the version", func(t *testing.T) {
		t.Parallel()
		other := *web
		other.Readme = []byte("# webservice\n\nOther text.\n")
		q := pack(t, &other)
		_, err := publish(ctx(t), h.client, q.manifest, q.payload, publishOptions{})
		if status.Code(err) != codes.AlreadyExists || !strings.Contains(err.Error(), p.digest) {
			t.Fatalf("publish other content = %v; want AlreadyExists naming %s", err, p.digest)
		}
	})
}

func TestPublishRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	p := pack(t, loadBuiltin(t, "worker"))
	tooMuch := append(append([]byte{}, p.payload...), bytes.Repeat([]byte("x"), 3<<20)...)
	corrupt := append([]byte{}, p.payload...)
	corrupt[len(corrupt)-1] ^= 0xff

	tests := []struct {
		name     string
		manifest []byte
		payload  []byte
		opts     publishOptions
		code     codes.Code
		want     string
	}{
		{"stream ends early", p.manifest, p.payload[:len(p.payload)/2], publishOptions{}, codes.InvalidArgument, "ended"},
		{"no content at all", p.manifest, nil, publishOptions{}, codes.InvalidArgument, "ended"},
		{"bytes beyond the manifest", p.manifest, tooMuch, publishOptions{chunkSize: 64 << 10}, codes.ResourceExhausted, "more bytes"},
		{"content does not match", p.manifest, corrupt, publishOptions{}, codes.InvalidArgument, "do not match"},
		{"not JSON", []byte("{"), nil, publishOptions{noClose: true}, codes.InvalidArgument, "header.manifest"},
		{"not a capability", reframe(t, p, nil, func(m *ocispec.Manifest) { m.ArtifactType = "application/x-other" }).manifest, nil,
			publishOptions{noClose: true}, codes.InvalidArgument, "artifactType"},
		{"not an image manifest", reframe(t, p, nil, func(m *ocispec.Manifest) { m.MediaType = ocispec.MediaTypeImageIndex }).manifest, nil,
			publishOptions{noClose: true}, codes.InvalidArgument, "mediaType"},
		{"not canonical", reframe(t, p, nil, func(m *ocispec.Manifest) { m.Annotations["x"] = "y" }).manifest, p.payload,
			publishOptions{}, codes.InvalidArgument, "canonical"},
	}
	// The group returns once its parallel refusals are done.
	t.Run("refusals", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				_, err := publish(ctx(t), h.client, tt.manifest, tt.payload, tt.opts)
				if status.Code(err) != tt.code || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("publish = %v; want %v containing %q", err, tt.code, tt.want)
				}
			})
		}
	})
	_, err := h.client.GetCapability(ctx(t), &capcenterv1.GetCapabilityRequest{Name: "capabilities/worker"})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("GetCapability after refused publishes = %v; want NotFound", err)
	}
}

func TestPublishChunkFirst(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	stream, err := h.client.PublishBundle(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	_ = stream.Send(&capcenterv1.PublishBundleRequest{Part: &capcenterv1.PublishBundleRequest_Chunk{Chunk: []byte("x")}})
	_, err = stream.CloseAndRecv()
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "header") {
		t.Fatalf("chunk first = %v; want InvalidArgument about the header", err)
	}
}

func TestPublishOversizeRefusedOnHeader(t *testing.T) {
	t.Parallel()
	p := pack(t, loadBuiltin(t, "webservice"))
	tests := []struct {
		name   string
		limits capabilities.Limits
	}{
		{"bundle", capabilities.Limits{MaxBundleSize: int64(len(p.payload) - 1)}},
		{"file", capabilities.Limits{MaxFileSize: 64}},
		{"files", capabilities.Limits{MaxFiles: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, Config{Limits: tt.limits})
			// Only the header goes out and the stream stays open: an
			// answer proves the server decided on the header alone.
			c, cancel := contextWithTimeout(t, 30*time.Second)
			defer cancel()
			_, err := publish(c, h.client, p.manifest, nil, publishOptions{noClose: true})
			if status.Code(err) != codes.ResourceExhausted {
				t.Fatalf("publish over the %s limit = %v; want ResourceExhausted", tt.name, err)
			}
		})
	}
}

func TestPublishInvalidBundle(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	p := reframe(t, pack(t, loadBuiltin(t, "webservice")), func(cfg map[string]any) {
		cfg["version"] = "1.0"
		cfg["kind"] = "gadget"
		cfg["source"] = "ftp://example.com/x"
	}, nil)
	_, err := publish(ctx(t), h.client, p.manifest, p.payload, publishOptions{})
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("publish invalid bundle = %v; want InvalidArgument", err)
	}
	for _, want := range []string{"version", "kind", "source"} {
		if !strings.Contains(st.Message(), want) {
			t.Errorf("message %q does not mention %s", st.Message(), want)
		}
	}
	var violations int
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			violations += len(br.GetFieldViolations())
		}
	}
	if violations < 3 {
		t.Errorf("%d field violations, want one per problem (3+): %v", violations, st.Details())
	}
}

func TestSignaturesBoundedAndListed(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	v := mustPublish(t, h, pack(t, loadBuiltin(t, "webservice"))).GetVersion()
	if sigs := v.GetSignatures(); len(sigs) != 1 || sigs[0].GetRole() != capcenterv1.SignatureRole_SIGNATURE_ROLE_SERVER {
		t.Fatalf("published version lists %v; want the server's signature", sigs)
	}
	ca, err := signature.NewCA(signature.CertOptions{CommonName: "author CA"})
	if err != nil {
		t.Fatal(err)
	}
	list, err := h.client.ListSignatures(ctx(t), &capcenterv1.ListSignaturesRequest{Name: "capabilities/webservice/versions/latest"})
	if err != nil {
		t.Fatal(err)
	}
	subject := ocispec.Descriptor{MediaType: list.GetMediaType(), Digest: digest.Digest(list.GetDigest()), Size: list.GetManifestSize()}
	// Each author signs with a key of their own: a second signature by one
	// key changes nothing.
	add := func() error {
		kp, err := signature.Issue(ca, signature.CertOptions{CommonName: "author"})
		if err != nil {
			t.Fatal(err)
		}
		signer, err := signature.NewSigner(kp)
		if err != nil {
			t.Fatal(err)
		}
		env, err := signer.Sign(ctx(t), subject)
		if err != nil {
			t.Fatal(err)
		}
		_, err = h.client.AddSignature(ctx(t), &capcenterv1.AddSignatureRequest{
			Name: "capabilities/webservice/versions/1.0.0", EnvelopeMediaType: signature.MediaTypeJWS, Envelope: env.Envelope,
		})
		return err
	}
	for i := 1; i < MaxSignatures; i++ {
		if err := add(); err != nil {
			t.Fatalf("signature %d: %v", i+1, err)
		}
	}
	if err := add(); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("signature %d = %v; want ResourceExhausted", MaxSignatures+1, err)
	}
	list, err = h.client.ListSignatures(ctx(t), &capcenterv1.ListSignaturesRequest{Name: "capabilities/webservice/versions/1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetSignatures()) != MaxSignatures {
		t.Fatalf("ListSignatures = %d signatures; want %d", len(list.GetSignatures()), MaxSignatures)
	}
	for _, sig := range list.GetSignatures() {
		if _, err := signature.Inspect(sig.GetEnvelopeMediaType(), sig.GetEnvelope(), subject); err != nil {
			t.Errorf("listed signature %s: %v", sig.GetDigest(), err)
		}
		if digest.FromBytes(sig.GetManifest()).String() != sig.GetDigest() {
			t.Errorf("listed signature %s: its manifest hashes elsewhere", sig.GetDigest())
		}
	}
	if _, err := h.client.AddSignature(ctx(t), &capcenterv1.AddSignatureRequest{Name: "capabilities/webservice/versions/latest", Envelope: []byte("x")}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("AddSignature to latest = %v; want InvalidArgument", err)
	}
}

func TestRepublishRenewsServerSignature(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	p := pack(t, loadBuiltin(t, "worker"))
	first := mustPublish(t, h, p).GetVersion()
	if len(first.GetSignatures()) != 1 {
		t.Fatalf("first publish: %d signatures", len(first.GetSignatures()))
	}
	// Another server over the same store, with a key that did not sign it
	// (a new key after the old one expired, or a store from before keys):
	// publishing the same content again signs it with the new key.
	renewer, err := New(Config{Store: h.store, Signer: testSigner(t)})
	if err != nil {
		t.Fatal(err)
	}
	staged := memory.New()
	desc, err := capabilities.Pack(ctx(t), staged, loadBuiltin(t, "worker"))
	if err != nil {
		t.Fatal(err)
	}
	v, created, err := renewer.Publish(ctx(t), staged, desc)
	if err != nil || created {
		t.Fatalf("republish = created %v, %v; want an existing version", created, err)
	}
	if len(v.Referrers) != 2 {
		t.Errorf("after republishing with a new key: %d referrers; want the old and the new signature", len(v.Referrers))
	}
	// The same server again leaves it alone: its signature is fresh.
	if v, _, err = renewer.Publish(ctx(t), staged, desc); err != nil || len(v.Referrers) != 2 {
		t.Errorf("a third publish: %d referrers, %v; want 2", len(v.Referrers), err)
	}
}

func TestFirstJSONDifference(t *testing.T) {
	t.Parallel()
	decode := func(s string) any {
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	want := decode(`{"metadata":{"name":"w","version":"1.0.0"},"schema":{"type":"object"}}`)
	for _, tc := range []struct{ got, path, what string }{
		{`{"metadata":{"name":"w","version":"1.0.0"},"schema":{"type":"object"}}`, "", ""},
		{`{"metadata":{"name":"w","version":"1.0.0","runAs":"root"},"schema":{"type":"object"}}`, "metadata.runAs", "is not a field of the format"},
		{`{"metadata":{"name":"w"},"schema":{"type":"object"}}`, "metadata.version", "is missing"},
		{`{"metadata":{"name":"w","version":"1.0.1"},"schema":{"type":"object"}}`, "metadata.version", "differs from what capctl packs"},
		{`[]`, "document", "differs from what capctl packs"},
	} {
		path, what := firstJSONDifference("", decode(tc.got), want)
		if path != tc.path || what != tc.what {
			t.Errorf("firstJSONDifference(%s) = %q %q; want %q %q", tc.got, path, what, tc.path, tc.what)
		}
	}
}
