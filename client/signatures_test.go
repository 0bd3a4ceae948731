package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/capabilities/signature"
	"github.com/capcenter/capcenter/client"
	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
	"github.com/capcenter/capcenter/server/servertest"
)

// mustPolicy loads the policy r writes.
func mustPolicy(t *testing.T, r *servertest.Registry, requireAuthor bool, authors ...*signature.KeyPair) *signature.Policy {
	t.Helper()
	p, err := signature.LoadPolicy(r.WritePolicy(t, requireAuthor, authors...))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustSigner(t *testing.T, kp *signature.KeyPair) *signature.Signer {
	t.Helper()
	s, err := signature.NewSigner(kp)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSignVerifyAndPullVerified(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, r := mustServeRegistry(t)
	v := mustPublish(t, c, mustLoadBuiltin(t, "webservice"))
	if sigs := v.GetSignatures(); len(sigs) != 1 || sigs[0].GetRole() != capcenterv1.SignatureRole_SIGNATURE_ROLE_SERVER ||
		sigs[0].GetFingerprint() != signature.Fingerprint(r.Signing.Leaf()) {
		t.Fatalf("a fresh publish lists signatures %v, want one by the server's key", sigs)
	}

	vf, err := c.Verify(ctx, "webservice", "", mustPolicy(t, r, false))
	if err != nil {
		t.Fatal(err)
	}
	if vf.Version != "1.0.0" || vf.Manifest.Digest.String() != v.GetDigest() || len(vf.Result.Registry) != 1 {
		t.Errorf("Verify = %s %s, %d registry signatures; want 1.0.0 %s, 1", vf.Version, vf.Manifest.Digest, len(vf.Result.Registry), v.GetDigest())
	}

	// An author co-signs; a policy that requires authors accepts it then,
	// and not before.
	authorCA, author := servertest.NewKeys(t, "alice")
	strict := mustPolicy(t, r, true, authorCA)
	if _, err := c.Verify(ctx, "webservice", "1.0.0", strict); !errors.Is(err, signature.ErrAuthorRequired) {
		t.Fatalf("Verify before the author signs = %v; want ErrAuthorRequired", err)
	}
	sig, err := c.Sign(ctx, "webservice", "1.0.0", mustSigner(t, author))
	if err != nil {
		t.Fatal(err)
	}
	if sig.GetRole() != capcenterv1.SignatureRole_SIGNATURE_ROLE_AUTHOR || !strings.Contains(sig.GetSigner(), "CN=alice") {
		t.Errorf("Sign = %v; want an author signature by alice", sig)
	}
	if again, err := c.Sign(ctx, "webservice", "1.0.0", mustSigner(t, author)); err != nil || again.GetDigest() != sig.GetDigest() {
		t.Errorf("signing again with the same key: %v, %v; want the first signature back", again, err)
	}
	p, err := c.PullVerified(ctx, "webservice", "", strict, capabilities.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Manifest.Digest.String() != v.GetDigest() || p.Bundle == nil || len(p.Verification.Result.Authors) != 1 {
		t.Errorf("PullVerified = %s, bundle %v, %d author signatures; want %s, a bundle, 1", p.Manifest.Digest, p.Bundle != nil, len(p.Verification.Result.Authors), v.GetDigest())
	}
	got, err := c.GetVersion(ctx, "webservice", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.GetSignatures()) != 2 {
		t.Errorf("GetVersion lists %d signatures, want the server's and alice's", len(got.GetSignatures()))
	}

	certs, err := c.Certificates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var roots, current int
	for _, cert := range certs {
		if cert.GetCa() && cert.GetFingerprint() == signature.Fingerprint(r.CA.Root()) {
			roots++
		}
		if cert.GetCurrent() && cert.GetFingerprint() == signature.Fingerprint(r.Signing.Leaf()) {
			current++
		}
	}
	if roots != 1 || current != 1 {
		t.Errorf("Certificates = %v; want the root CA and the current signing certificate", certs)
	}
}

func TestAddSignatureRefusesAnotherDigest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, r := mustServeRegistry(t)
	mustPublish(t, c, mustLoadBuiltin(t, "webservice"))
	mustPublish(t, c, mustLoadBuiltin(t, "worker"))
	_, author := servertest.NewKeys(t, "alice")
	worker, err := c.Signatures(ctx, "worker", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	env, err := mustSigner(t, author).Sign(ctx, worker.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	_, err = rawClient(t, r.Addr).AddSignature(ctx, &capcenterv1.AddSignatureRequest{
		Name: "capabilities/webservice/versions/1.0.0", EnvelopeMediaType: signature.MediaTypeJWS, Envelope: env.Envelope,
	})
	if err == nil || !strings.Contains(err.Error(), "signature is for another artifact") {
		t.Errorf("AddSignature of worker's signature to webservice = %v; want InvalidArgument naming the digests", err)
	}
	_, err = rawClient(t, r.Addr).AddSignature(ctx, &capcenterv1.AddSignatureRequest{
		Name: "capabilities/webservice/versions/1.0.0", EnvelopeMediaType: signature.MediaTypeJWS, Envelope: []byte("{}"),
	})
	if err == nil || !strings.Contains(err.Error(), "invalid signature") {
		t.Errorf("AddSignature of garbage = %v; want InvalidArgument", err)
	}
}

func rawClient(t *testing.T, addr string) capcenterv1.CapabilityServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return capcenterv1.NewCapabilityServiceClient(conn)
}

// meddler stands between a client and a real registry and changes what
// the registry answers, as a compromised registry or network would.
type meddler struct {
	capcenterv1.UnimplementedCapabilityServiceServer
	up capcenterv1.CapabilityServiceClient
	// pullName, when set, replaces the name of every pull: another version
	// is served in place of the one asked for.
	pullName string
	// flipChunk flips a byte of the first chunk of every pull.
	flipChunk bool
	// signaturesOf, when set, answers ListSignatures with another
	// version's signatures, under the asked-for version's digest.
	signaturesOf string
	// relabel, when set, serves that version (signatures, digest and
	// content, all genuine) as the version asked for: a rollback.
	relabel string
}

func (m *meddler) ListSignatures(ctx context.Context, req *capcenterv1.ListSignaturesRequest) (*capcenterv1.ListSignaturesResponse, error) {
	if m.relabel != "" {
		asked := req.GetName()
		resp, err := m.up.ListSignatures(ctx, &capcenterv1.ListSignaturesRequest{Name: m.relabel})
		if err != nil {
			return nil, err
		}
		resp.Version = asked[strings.LastIndexByte(asked, '/')+1:]
		return resp, nil
	}
	resp, err := m.up.ListSignatures(ctx, req)
	if err != nil || m.signaturesOf == "" {
		return resp, err
	}
	other, err := m.up.ListSignatures(ctx, &capcenterv1.ListSignaturesRequest{Name: m.signaturesOf})
	if err != nil {
		return nil, err
	}
	// Re-point the other version's signature manifests at this version,
	// as an attacker can: manifests are not signed, envelopes are.
	for _, sig := range other.GetSignatures() {
		var man ocispec.Manifest
		if err := json.Unmarshal(sig.GetManifest(), &man); err != nil {
			return nil, err
		}
		man.Subject = &ocispec.Descriptor{MediaType: resp.GetMediaType(), Digest: digest.Digest(resp.GetDigest()), Size: resp.GetManifestSize()}
		raw, err := json.Marshal(man)
		if err != nil {
			return nil, err
		}
		sig.Manifest, sig.Digest = raw, digest.FromBytes(raw).String()
	}
	resp.Signatures = other.GetSignatures()
	return resp, nil
}

func (m *meddler) PullBundle(req *capcenterv1.PullBundleRequest, stream capcenterv1.CapabilityService_PullBundleServer) error {
	asked := req.GetName()
	if m.pullName != "" {
		req = &capcenterv1.PullBundleRequest{Name: m.pullName}
	}
	if m.relabel != "" {
		req = &capcenterv1.PullBundleRequest{Name: m.relabel, Digest: req.GetDigest()}
	}
	up, err := m.up.PullBundle(stream.Context(), req)
	if err != nil {
		return err
	}
	flipped := false
	for {
		msg, err := up.Recv()
		if err != nil {
			return nil //nolint:nilerr // the end of the upstream stream ends this one
		}
		if h := msg.GetHeader(); h != nil && (m.pullName != "" || m.relabel != "") {
			// Claim the version asked for, digest and all: only the digest
			// the client verified can tell.
			h.Version.Version = asked[strings.LastIndexByte(asked, '/')+1:]
		}
		if chunk := msg.GetChunk(); m.flipChunk && !flipped && len(chunk) > 0 {
			chunk[len(chunk)/2] ^= 0xff
			flipped = true
		}
		if err := stream.Send(msg); err != nil {
			return err
		}
	}
}

func TestPullVerifiedRefusesWhatItDidNotVerify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, r := mustServeRegistry(t)
	mustPublish(t, c, mustLoadBuiltin(t, "webservice"))
	next := mustLoadBuiltin(t, "webservice")
	next.Metadata.Version = "2.0.0"
	next.Readme = []byte("# webservice 2\n")
	mustPublish(t, c, next)
	policy := mustPolicy(t, r, false)

	tests := []struct {
		name string
		m    *meddler
		want error
		say  string
	}{
		{"swapped manifest", &meddler{pullName: "capabilities/webservice/versions/2.0.0"}, client.ErrDigestMismatch, "not the verified"},
		{"tampered layer", &meddler{flipChunk: true}, client.ErrDigestMismatch, "hashes to"},
		{"signature over another digest", &meddler{signaturesOf: "capabilities/webservice/versions/2.0.0"}, signature.ErrUntrusted, "signature is for another artifact"},
		{"older signed version served as the newer", &meddler{relabel: "capabilities/webservice/versions/1.0.0"}, client.ErrMislabeled, "the manifest says it is webservice@1.0.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.m.up = rawClient(t, r.Addr)
			mc := mustServeFake(t, tt.m)
			asked := "1.0.0"
			if tt.m.relabel != "" {
				asked = "2.0.0"
			}
			p, err := mc.PullVerified(ctx, "webservice", asked, policy, capabilities.Limits{})
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.say) {
				t.Fatalf("PullVerified = %v; want %v saying %q", err, tt.want, tt.say)
			}
			if p != nil {
				t.Errorf("PullVerified returned content with its error: %v", p)
			}
		})
	}
}
