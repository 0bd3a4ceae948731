package client

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/Masterminds/semver/v3"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/capabilities/signature"
	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
)

// Signed is a version's manifest descriptor and its signatures, envelopes
// and signature manifests included, as the registry lists them.
type Signed struct {
	Name, Version string
	// Manifest describes the version's manifest: what every signature signs.
	Manifest   ocispec.Descriptor
	Signatures []*capcenterv1.Signature
}

// Envelopes returns the signatures in the form signature.Verify takes.
func (s *Signed) Envelopes() []signature.Envelope {
	out := make([]signature.Envelope, len(s.Signatures))
	for i, sig := range s.Signatures {
		out[i] = signature.Envelope{Digest: sig.GetDigest(), MediaType: sig.GetEnvelopeMediaType(), Data: sig.GetEnvelope()}
	}
	return out
}

// Signatures lists the signatures of version of capability name ("" or
// Latest for the highest version not yanked). It checks that each
// signature manifest hashes to its digest, is a referrer of the version's
// manifest and holds exactly the envelope sent with it; it does not judge
// the signatures (Verify does). It fails with ErrNotFound for an unknown
// version and ErrDigestMismatch when the listing is inconsistent.
func (c *Client) Signatures(ctx context.Context, name, version string) (*Signed, error) {
	rn, err := versionName(name, version)
	if err != nil {
		return nil, err
	}
	subject := Ref(name, orLatest(version))
	resp, err := c.rpc.ListSignatures(ctx, &capcenterv1.ListSignaturesRequest{Name: rn})
	if err != nil {
		return nil, wrapStatus(ctx, subject, err)
	}
	if _, err := semver.StrictNewVersion(resp.GetVersion()); err != nil {
		return nil, protocolError(subject, "the server resolved it to version %q", resp.GetVersion())
	}
	if version != "" && version != Latest && resp.GetVersion() != version {
		return nil, protocolError(subject, "the server listed the signatures of %s", Ref(name, resp.GetVersion()))
	}
	d, err := digest.Parse(resp.GetDigest())
	if err != nil || resp.GetMediaType() != ocispec.MediaTypeImageManifest || resp.GetManifestSize() <= 0 {
		return nil, protocolError(subject, "the server described the manifest as %q, %q, %d bytes", resp.GetDigest(), resp.GetMediaType(), resp.GetManifestSize())
	}
	s := &Signed{
		Name:       name,
		Version:    resp.GetVersion(),
		Manifest:   ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: d, Size: resp.GetManifestSize()},
		Signatures: resp.GetSignatures(),
	}
	ref := Ref(name, s.Version)
	for _, sig := range s.Signatures {
		if err := checkSignatureManifest(sig, s.Manifest); err != nil {
			return nil, fmt.Errorf("%s: signature %s: %w: %w", ref, sig.GetDigest(), ErrDigestMismatch, err)
		}
	}
	return s, nil
}

// checkSignatureManifest checks that a listed signature's manifest is the
// one its digest names, refers to subject, and has the envelope as its one
// layer.
func checkSignatureManifest(sig *capcenterv1.Signature, subject ocispec.Descriptor) error {
	raw := sig.GetManifest()
	if got := digest.FromBytes(raw).String(); got != sig.GetDigest() {
		return fmt.Errorf("its manifest hashes to %s", got)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	if m.Subject == nil || m.Subject.Digest != subject.Digest {
		return fmt.Errorf("its manifest is not a referrer of %s", subject.Digest)
	}
	if len(m.Layers) != 1 {
		return fmt.Errorf("its manifest has %d layers, want 1", len(m.Layers))
	}
	l := m.Layers[0]
	if l.Digest != digest.FromBytes(sig.GetEnvelope()) || l.Size != int64(len(sig.GetEnvelope())) || l.MediaType != sig.GetEnvelopeMediaType() {
		return fmt.Errorf("the envelope sent is not the layer of its manifest")
	}
	return nil
}

// Verification is a version's signatures and the verdict on them.
type Verification struct {
	*Signed
	Result *signature.Result
}

// Verify resolves version to a manifest digest once and verifies that
// digest's signatures against policy's rule for name (see
// signature.Verify). It fails as Signatures does, wrapping
// signature.ErrNoPolicy when no rule matches name, and wrapping
// signature.ErrUnsigned, ErrUntrusted or ErrAuthorRequired when the
// signatures do not satisfy the rule; the message says why each failed.
func (c *Client) Verify(ctx context.Context, name, version string, policy *signature.Policy) (*Verification, error) {
	rule, err := policy.For(name)
	if err != nil {
		return nil, err
	}
	s, err := c.Signatures(ctx, name, version)
	if err != nil {
		return nil, err
	}
	res, err := signature.Verify(ctx, rule, name, s.Manifest, s.Envelopes())
	if err != nil {
		return nil, err
	}
	return &Verification{Signed: s, Result: res}, nil
}

// PullVerified verifies version as Verify does, then pulls exactly the
// verified digest, by the exact version it resolved to, and unpacks it
// within lim: a tag that moves between the two calls cannot change what is
// pulled. It fails as Verify does before anything is downloaded, and as
// Pull does: with ErrDigestMismatch when the server sends another manifest
// than the one verified, and ErrMislabeled when the verified content is
// another capability or version (an older signed version served as a newer
// one).
func (c *Client) PullVerified(ctx context.Context, name, version string, policy *signature.Policy, lim capabilities.Limits) (*Pulled, error) {
	v, err := c.Verify(ctx, name, version, policy)
	if err != nil {
		return nil, err
	}
	p, err := c.pullContent(ctx, name, v.Version, v.Manifest.Digest, lim)
	if err != nil {
		return nil, err
	}
	p.Verification = v
	if p.Bundle, err = capabilities.Unpack(ctx, p.Content, p.Manifest, lim); err != nil {
		return nil, fmt.Errorf("%s: %w", Ref(name, v.Version), err)
	}
	if err := checkBundle(p); err != nil {
		return nil, err
	}
	return p, nil
}

// Sign signs version of capability name ("" or Latest for the highest
// version not yanked) with signer, over the manifest digest the registry
// lists, and uploads the signature. It fails as Signatures does, when
// signing fails, and with ErrInvalidArgument when the registry refuses the
// signature.
func (c *Client) Sign(ctx context.Context, name, version string, signer *signature.Signer) (*capcenterv1.Signature, error) {
	s, err := c.Signatures(ctx, name, version)
	if err != nil {
		return nil, err
	}
	info, err := signer.Sign(ctx, s.Manifest)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Ref(name, s.Version), err)
	}
	rn, err := versionName(name, s.Version)
	if err != nil {
		return nil, err
	}
	sig, err := c.rpc.AddSignature(ctx, &capcenterv1.AddSignatureRequest{
		Name: rn, EnvelopeMediaType: info.MediaType, Envelope: info.Envelope,
	})
	if err != nil {
		return nil, wrapStatus(ctx, Ref(name, s.Version), err)
	}
	return sig, nil
}

// Certificates returns the certificates the registry signs with and the
// roots that issued them.
func (c *Client) Certificates(ctx context.Context) ([]*capcenterv1.Certificate, error) {
	resp, err := c.rpc.ListCertificates(ctx, &capcenterv1.ListCertificatesRequest{})
	if err != nil {
		return nil, wrapStatus(ctx, "certificates", err)
	}
	return resp.GetCertificates(), nil
}
