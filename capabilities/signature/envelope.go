package signature

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	notationsig "github.com/notaryproject/notation-core-go/signature"
	"github.com/notaryproject/notation-core-go/signature/cose"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ErrInvalidSignature is wrapped when an envelope is malformed, too large,
// of an unknown media type, or its signature does not verify against its
// own certificate chain.
var ErrInvalidSignature = errors.New("invalid signature")

// ErrWrongSubject is wrapped when an envelope signs another artifact than
// the one it is attached to.
var ErrWrongSubject = errors.New("signature is for another artifact")

// ErrNotCurrent is wrapped by Info.Current for a signature no verifier
// would accept now: expired, signed by a certificate that has expired, or
// dated in the future.
var ErrNotCurrent = errors.New("signature not valid now")

// MaxClockSkew is how far in the future a signing time may lie before
// Info.Current refuses it.
const MaxClockSkew = 5 * time.Minute

// payloadMediaType is the content type of a Notary Project payload.
const payloadMediaType = "application/vnd.cncf.notary.payload.v1+json"

// payload is a Notary Project signature payload.
type payload struct {
	TargetArtifact ocispec.Descriptor `json:"targetArtifact"`
}

// Info is what an envelope says, once Inspect has checked its integrity.
// Trust is a separate question: see Verify.
type Info struct {
	MediaType string
	Envelope  []byte
	// Signer is the subject of the signing certificate; Fingerprint its
	// SHA-256 (see Fingerprint).
	Signer      string
	Fingerprint string
	// SignedAt is the signing time the signer claims; Expiry is zero when
	// the signature does not expire.
	SignedAt time.Time
	Expiry   time.Time
	// Chain is the certificate chain in the envelope, leaf first.
	Chain []*x509.Certificate
}

// Inspect parses an envelope of mediaType (JWS or COSE), checks that its
// signature verifies against the certificate chain it carries, that the
// chain was a valid code-signing chain at the signing time, and that it
// signs subject (same media type, digest and size). It fails wrapping
// ErrInvalidSignature or ErrWrongSubject, saying what is wrong; it says
// nothing about whether the signer is trusted.
func Inspect(mediaType string, env []byte, subject ocispec.Descriptor) (*Info, error) {
	if len(env) > MaxEnvelopeSize {
		return nil, fmt.Errorf("%w: envelope of %d bytes, more than %d", ErrInvalidSignature, len(env), MaxEnvelopeSize)
	}
	if mediaType != MediaTypeJWS && mediaType != cose.MediaTypeEnvelope {
		return nil, fmt.Errorf("%w: envelope media type %q is neither %s nor %s", ErrInvalidSignature, mediaType, MediaTypeJWS, cose.MediaTypeEnvelope)
	}
	e, err := notationsig.ParseEnvelope(mediaType, env)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSignature, err)
	}
	c, err := e.Verify()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSignature, err)
	}
	chain := c.SignerInfo.CertificateChain
	if len(chain) == 0 {
		return nil, fmt.Errorf("%w: no certificate chain", ErrInvalidSignature)
	}
	// Verify checked the chain's structure and signatures; what it leaves
	// to trust policy evaluation is validity at the signing time.
	signedAt := c.SignerInfo.SignedAttributes.SigningTime
	for _, cert := range chain {
		if signedAt.Before(cert.NotBefore) || signedAt.After(cert.NotAfter) {
			return nil, fmt.Errorf("%w: certificate %q was not valid at the signing time %s (valid %s to %s)", ErrInvalidSignature,
				cert.Subject, signedAt.UTC().Format(time.RFC3339), cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339))
		}
	}
	if c.Payload.ContentType != payloadMediaType {
		return nil, fmt.Errorf("%w: payload content type %q is not %s", ErrInvalidSignature, c.Payload.ContentType, payloadMediaType)
	}
	var p payload
	if err := json.Unmarshal(c.Payload.Content, &p); err != nil {
		return nil, fmt.Errorf("%w: payload: %w", ErrInvalidSignature, err)
	}
	t := p.TargetArtifact
	if t.Digest != subject.Digest || t.Size != subject.Size || t.MediaType != subject.MediaType {
		return nil, fmt.Errorf("%w: it signs %s (%d bytes, %s), not %s (%d bytes, %s)",
			ErrWrongSubject, t.Digest, t.Size, t.MediaType, subject.Digest, subject.Size, subject.MediaType)
	}
	return &Info{
		MediaType:   mediaType,
		Envelope:    env,
		Signer:      chain[0].Subject.String(),
		Fingerprint: Fingerprint(chain[0]),
		SignedAt:    signedAt,
		Expiry:      c.SignerInfo.SignedAttributes.Expiry,
		Chain:       chain,
	}, nil
}

// Current checks that a signature Inspect accepted still verifies at now:
// its signing time is not more than MaxClockSkew ahead, its own expiry (if
// it has one) and every certificate of its chain are not past. Without a
// timestamp a signature stops verifying when its certificate expires, so a
// registry has no reason to store one that already has. It fails wrapping
// ErrNotCurrent, naming what ended when.
func (i *Info) Current(now time.Time) error {
	stamp := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	if i.SignedAt.After(now.Add(MaxClockSkew)) {
		return fmt.Errorf("%w: signing time %s is in the future (now %s)", ErrNotCurrent, stamp(i.SignedAt), stamp(now))
	}
	if !i.Expiry.IsZero() && !now.Before(i.Expiry) {
		return fmt.Errorf("%w: the signature expired at %s", ErrNotCurrent, stamp(i.Expiry))
	}
	for _, cert := range i.Chain {
		if now.After(cert.NotAfter) {
			return fmt.Errorf("%w: certificate %q expired at %s", ErrNotCurrent, cert.Subject, stamp(cert.NotAfter))
		}
	}
	return nil
}
