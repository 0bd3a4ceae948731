package signature

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/notaryproject/notation-core-go/signature/jws"
	"github.com/notaryproject/notation-go"
	"github.com/notaryproject/notation-go/signer"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
)

// Media and artifact types of a Notary Project signature, and the
// annotations its manifest carries.
const (
	// ArtifactType is the artifactType of a signature manifest and the media
	// type of its empty config.
	ArtifactType = "application/vnd.cncf.notary.signature"
	// MediaTypeJWS is the media type of a JWS envelope, the only envelope
	// format capcenter writes. Verification also reads COSE.
	MediaTypeJWS = jws.MediaTypeEnvelope
	// AnnotationThumbprints lists the SHA-256 fingerprints of the signing
	// chain, leaf first, as a JSON array; notation writes and reads it.
	AnnotationThumbprints = "io.cncf.notary.x509chain.thumbprint#S256"
	// AnnotationRole says who uploaded the signature: RoleServer or
	// RoleAuthor. It is informational; see the package doc.
	AnnotationRole = "io.capcenter.signature.role"
	// AnnotationSigner is the subject of the signing certificate.
	AnnotationSigner = "io.capcenter.signature.signer"
)

// Roles of a signature.
const (
	RoleServer = "server"
	RoleAuthor = "author"
)

// MaxEnvelopeSize bounds a signature envelope: a chain of a few
// certificates and a payload of one descriptor fit in a few KiB. With the
// server's bound on signatures per version it keeps a version's signature
// listing far below a gRPC message.
const MaxEnvelopeSize = 32 << 10

// emptyConfig is the config blob of every signature manifest: "{}".
var emptyConfig = []byte("{}")

// Signer signs manifest descriptors with one key pair.
type Signer struct {
	keys *KeyPair
	gs   *signer.GenericSigner
}

// NewSigner returns a Signer for kp after checking that kp can sign now
// (see KeyPair.Check).
func NewSigner(kp *KeyPair) (*Signer, error) {
	if err := kp.Check(time.Now()); err != nil {
		return nil, err
	}
	gs, err := signer.NewGenericSigner(kp.Key, kp.Chain)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	return &Signer{keys: kp, gs: gs}, nil
}

// KeyPair returns the signer's key pair.
func (s *Signer) KeyPair() *KeyPair { return s.keys }

// Sign signs subject, an OCI manifest descriptor, and returns the JWS
// envelope described as Inspect would describe it. It fails when the chain
// is no longer valid (an expired certificate) or the key fails to sign.
func (s *Signer) Sign(ctx context.Context, subject ocispec.Descriptor) (*Info, error) {
	env, si, err := s.gs.Sign(ctx, subject, notation.SignerSignOptions{
		SignatureMediaType: MediaTypeJWS,
		SigningAgent:       "capcenter",
	})
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", subject.Digest, err)
	}
	// notation-core-go checked the chain at the signing time as it signed.
	leaf := si.CertificateChain[0]
	return &Info{
		MediaType:   MediaTypeJWS,
		Envelope:    env,
		Signer:      leaf.Subject.String(),
		Fingerprint: Fingerprint(leaf),
		SignedAt:    si.SignedAttributes.SigningTime,
		Expiry:      si.SignedAttributes.Expiry,
		Chain:       si.CertificateChain,
	}, nil
}

// Push writes a signature manifest for an envelope already checked with
// Inspect: the empty config, the envelope as the only layer, subject as
// the subject, and the annotations notation writes plus the role. It
// returns the manifest's descriptor, with its artifactType set. Content
// already in dst is not pushed again; other push errors are returned.
func Push(ctx context.Context, dst content.Pusher, subject ocispec.Descriptor, info *Info, role string) (ocispec.Descriptor, error) {
	thumbprints := make([]string, len(info.Chain))
	for i, c := range info.Chain {
		thumbprints[i] = Fingerprint(c)
	}
	tp, err := json.Marshal(thumbprints)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("encode thumbprints: %w", err)
	}
	cfg := content.NewDescriptorFromBytes(ArtifactType, emptyConfig)
	layer := content.NewDescriptorFromBytes(info.MediaType, info.Envelope)
	subject = ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size, ArtifactType: subject.ArtifactType}
	m := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: ArtifactType,
		Config:       cfg,
		Layers:       []ocispec.Descriptor{layer},
		Subject:      &subject,
		Annotations: map[string]string{
			AnnotationThumbprints:     string(tp),
			ocispec.AnnotationCreated: info.SignedAt.UTC().Format(time.RFC3339),
			AnnotationRole:            role,
			AnnotationSigner:          info.Signer,
		},
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("encode signature manifest: %w", err)
	}
	desc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, raw)
	desc.ArtifactType = ArtifactType
	for _, b := range []struct {
		desc ocispec.Descriptor
		data []byte
	}{{cfg, emptyConfig}, {layer, info.Envelope}, {desc, raw}} {
		err := dst.Push(ctx, b.desc, bytes.NewReader(b.data))
		if err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
			return ocispec.Descriptor{}, fmt.Errorf("push signature %s: %w", b.desc.Digest, err)
		}
	}
	return desc, nil
}
