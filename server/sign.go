package server

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/grpc/codes"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"

	"github.com/capcenter/capcenter/capabilities/signature"
	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
	"github.com/capcenter/capcenter/store"
)

// MaxSignatures bounds the signatures one version carries, so that a
// version's listing and every client's verification stay small.
const MaxSignatures = 32

// signStaged signs the manifest desc, staged in staging, with the server's
// key and stages the signature manifest next to it; it returns the
// signature manifest's descriptor.
func (s *Server) signStaged(ctx context.Context, staging content.Pusher, desc ocispec.Descriptor) (ocispec.Descriptor, error) {
	info, err := s.signer.Sign(ctx, desc)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	return signature.Push(ctx, staging, desc, info, signature.RoleServer)
}

// renewMargin is how long a server signature's certificate must still be
// valid for backfillSignature to leave the version alone.
const renewMargin = 30 * 24 * time.Hour

// backfillSignature signs an already published version again when it
// carries no server signature by a certificate of this server that stays
// valid for renewMargin: it was published before capd had a key, or its
// signing certificate is about to expire (signatures carry no timestamp,
// so they stop verifying when it does). It returns the version as it now
// is.
func (s *Server) backfillSignature(ctx context.Context, v store.Version, desc ocispec.Descriptor) (store.Version, error) {
	notAfter := map[string]time.Time{}
	for _, c := range s.certificates() {
		notAfter[signature.Fingerprint(c)] = c.NotAfter
	}
	for _, sig := range signaturesToProto(v.Referrers) {
		end, ours := notAfter[sig.GetFingerprint()]
		if sig.GetRole() == capcenterv1.SignatureRole_SIGNATURE_ROLE_SERVER && ours && time.Until(end) > renewMargin {
			return v, nil
		}
	}
	staging := memory.New()
	sig, err := s.signStaged(ctx, staging, desc)
	if err != nil {
		return v, err
	}
	return s.store.AddReferrer(ctx, v.Name, v.Version, sig, staging)
}

// AddSignature stores an author's signature of a version after checking
// that it is intact and signs that version's manifest. A signature by a
// certificate that already signed the version returns that signature and
// stores nothing. It fails with InvalidArgument for a malformed name,
// "latest", or an envelope that Inspect rejects; NotFound for an unknown
// version; ResourceExhausted when the version already has MaxSignatures
// signatures (checked before the store write, so concurrent calls may pass
// it by a few: MaxEnvelopeSize keeps even that listing small); with tokens,
// Unauthenticated or PermissionDenied unless the caller may publish the
// capability.
func (s *Server) AddSignature(ctx context.Context, req *capcenterv1.AddSignatureRequest) (*capcenterv1.Signature, error) {
	name, version, err := parseVersionName(req.GetName(), false)
	if aerr := s.allowPublish(ctx, name); aerr != nil {
		return nil, aerr
	}
	if err != nil {
		return nil, err
	}
	if len(req.GetEnvelope()) == 0 {
		return nil, statusError(codes.InvalidArgument, "envelope: empty")
	}
	v, err := s.store.GetVersion(ctx, name, version)
	if err != nil {
		return nil, err
	}
	raw, _, err := s.fetchManifest(ctx, v.Digest)
	if err != nil {
		return nil, err
	}
	subject := manifestDescriptor(raw)
	info, err := signature.Inspect(req.GetEnvelopeMediaType(), req.GetEnvelope(), subject)
	if err == nil {
		err = info.Current(time.Now())
	}
	if err != nil {
		return nil, statusError(codes.InvalidArgument, "envelope: %s@%s: %v", name, version, err)
	}
	// One signature per signing certificate: signing again changes
	// nothing, and no one key can fill a version's signature slots.
	for _, sig := range signaturesToProto(v.Referrers) {
		if sig.GetFingerprint() == info.Fingerprint {
			return sig, nil
		}
	}
	if countSignatures(v) >= MaxSignatures {
		return nil, statusError(codes.ResourceExhausted, "%s@%s already has %d signatures, the most a version may carry", name, version, MaxSignatures)
	}
	staging := memory.New()
	desc, err := signature.Push(ctx, staging, subject, info, signature.RoleAuthor)
	if err != nil {
		return nil, err
	}
	v, err = s.store.AddReferrer(ctx, name, version, desc, staging)
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "signature added", "capability", name, "version", version,
		"signature", desc.Digest, "signer", info.Signer, "fingerprint", info.Fingerprint)
	for _, sig := range signaturesToProto(v.Referrers) {
		if sig.GetDigest() == desc.Digest.String() {
			return sig, nil
		}
	}
	return nil, fmt.Errorf("%s@%s: signature %s missing after it was stored", name, version, desc.Digest)
}

// ListSignatures returns a version's manifest descriptor and its
// signatures with their envelopes, each read from the store and checked
// against its digest. It fails with InvalidArgument for a malformed name,
// NotFound for an unknown version, and Internal for stored content that
// does not match its digest.
func (s *Server) ListSignatures(ctx context.Context, req *capcenterv1.ListSignaturesRequest) (*capcenterv1.ListSignaturesResponse, error) {
	if err := s.allowRead(ctx); err != nil {
		return nil, err
	}
	v, err := s.version(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	raw, _, err := s.fetchManifest(ctx, v.Digest)
	if err != nil {
		return nil, err
	}
	out := &capcenterv1.ListSignaturesResponse{
		Version:      v.Version,
		Digest:       v.Digest,
		ManifestSize: int64(len(raw)),
		MediaType:    ocispec.MediaTypeImageManifest,
	}
	for _, sig := range signaturesToProto(v.Referrers) {
		manifest, mediaType, env, err := s.fetchEnvelope(ctx, sig.GetDigest())
		if err != nil {
			return nil, err
		}
		sig.Manifest, sig.EnvelopeMediaType, sig.Envelope = manifest, mediaType, env
		out.Signatures = append(out.Signatures, sig)
	}
	return out, nil
}

// fetchEnvelope reads a stored signature manifest and its one layer, the
// envelope, verifying both digests; it returns the manifest, the envelope's
// media type and the envelope.
func (s *Server) fetchEnvelope(ctx context.Context, dgst string) ([]byte, string, []byte, error) {
	raw, m, err := s.fetchManifest(ctx, dgst)
	if err != nil {
		return nil, "", nil, err
	}
	if len(m.Layers) != 1 {
		return nil, "", nil, fmt.Errorf("signature %s: %d layers, want 1", dgst, len(m.Layers))
	}
	layer := m.Layers[0]
	if layer.Size > signature.MaxEnvelopeSize {
		return nil, "", nil, fmt.Errorf("signature %s: envelope of %d bytes", dgst, layer.Size)
	}
	rc, err := s.store.Fetch(ctx, layer)
	if err != nil {
		return nil, "", nil, err
	}
	defer rc.Close()
	env, err := content.ReadAll(io.LimitReader(rc, layer.Size+1), layer)
	if err != nil {
		return nil, "", nil, fmt.Errorf("signature %s: envelope: %w", dgst, err)
	}
	return raw, layer.MediaType, env, nil
}

// ListCertificates returns the server's certificates: the chain of the
// current signing certificate and every certificate of earlier keys,
// each once.
func (s *Server) ListCertificates(ctx context.Context, _ *capcenterv1.ListCertificatesRequest) (*capcenterv1.ListCertificatesResponse, error) {
	if err := s.allowRead(ctx); err != nil {
		return nil, err
	}
	out := &capcenterv1.ListCertificatesResponse{}
	seen := map[string]bool{}
	current := s.signer.KeyPair().Leaf()
	for _, c := range s.certificates() {
		fp := signature.Fingerprint(c)
		if seen[fp] {
			continue
		}
		seen[fp] = true
		out.Certificates = append(out.Certificates, &capcenterv1.Certificate{
			Pem:         string(signature.EncodeCertificates(c)),
			Subject:     c.Subject.String(),
			Issuer:      c.Issuer.String(),
			Fingerprint: fp,
			NotBefore:   timestamp(c.NotBefore),
			NotAfter:    timestamp(c.NotAfter),
			Ca:          c.IsCA,
			Current:     c == current,
		})
	}
	return out, nil
}

// certificates returns the current signing chain, then the certificates
// of earlier keys.
func (s *Server) certificates() []*x509.Certificate {
	return append(slices.Clone(s.signer.KeyPair().Chain), s.previous...)
}

// signaturesToProto maps the signature referrers of a version, in order,
// reading the fields from the annotations the server wrote.
func signaturesToProto(refs []store.Referrer) []*capcenterv1.Signature {
	var out []*capcenterv1.Signature
	for _, r := range refs {
		if r.ArtifactType != signature.ArtifactType {
			continue
		}
		sig := &capcenterv1.Signature{Digest: r.Digest, Signer: r.Annotations[signature.AnnotationSigner]}
		switch r.Annotations[signature.AnnotationRole] {
		case signature.RoleServer:
			sig.Role = capcenterv1.SignatureRole_SIGNATURE_ROLE_SERVER
		case signature.RoleAuthor:
			sig.Role = capcenterv1.SignatureRole_SIGNATURE_ROLE_AUTHOR
		}
		var thumbprints []string
		if json.Unmarshal([]byte(r.Annotations[signature.AnnotationThumbprints]), &thumbprints) == nil && len(thumbprints) > 0 {
			sig.Fingerprint = thumbprints[0]
		}
		if t, err := time.Parse(time.RFC3339, r.Annotations[ocispec.AnnotationCreated]); err == nil {
			sig.SignTime = timestamp(t)
		}
		out = append(out, sig)
	}
	return out
}

func countSignatures(v store.Version) int {
	n := 0
	for _, r := range v.Referrers {
		if r.ArtifactType == signature.ArtifactType {
			n++
		}
	}
	return n
}

// checkDigest fails with FailedPrecondition when a pull names a digest the
// version does not have.
func checkDigest(v store.Version, want string) error {
	if want == "" || want == v.Digest {
		return nil
	}
	if _, err := digest.Parse(want); err != nil {
		return statusError(codes.InvalidArgument, "digest: %q is not a digest: %v", want, err)
	}
	return statusError(codes.FailedPrecondition, "%s@%s has digest %s, not %s", v.Name, v.Version, v.Digest, want)
}

var errNoSigner = errors.New("server: Config.Signer is required: capd signs every version it publishes")
