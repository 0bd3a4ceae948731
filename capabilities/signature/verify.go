package signature

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/notaryproject/notation-go"
	"github.com/notaryproject/notation-go/verifier"
	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	"github.com/notaryproject/notation-go/verifier/truststore"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ErrUnsigned is wrapped when a version has no signature at all.
var ErrUnsigned = errors.New("not signed")

// ErrUntrusted is wrapped when no signature of a version verifies against
// the registry certificates its trust policy rule names.
var ErrUntrusted = errors.New("no trusted registry signature")

// ErrAuthorRequired is wrapped when a rule requires an author signature and
// none verifies against the rule's author certificates.
var ErrAuthorRequired = errors.New("no trusted author signature")

// Envelope is one signature of a version, as a verifier receives it.
type Envelope struct {
	// Digest is the signature manifest's digest, used in messages.
	Digest    string
	MediaType string
	Data      []byte
}

// Verified is one signature that verified.
type Verified struct {
	Digest      string
	Signer      string
	Fingerprint string
	SignedAt    time.Time
}

// Result lists the signatures that verified, by the role they count for.
// A signature counts for the registry when it chains to one of the rule's
// registry certificates, else for authors when it chains to one of the
// author certificates; it never counts twice.
type Result struct {
	Rule     string
	Registry []Verified
	Authors  []Verified
}

// Names of the two trust stores Verify hands notation.
const (
	storeRegistry = "capcenter-registry"
	storeAuthors  = "capcenter-authors"
)

// Verify decides whether the signatures sigs of name's manifest subject
// satisfy rule: at least one must be a valid Notary Project signature of
// subject by a certificate chaining to one of rule.Registry, and when
// rule.RequireAuthor, another by a certificate chaining to rule.Authors.
// Each signature is checked by notation's verifier at the strict level:
// integrity, authenticity, certificate validity at the signing time and
// now, signature expiry, and revocation for certificates that name a
// responder. It fails wrapping ErrUnsigned, ErrUntrusted or
// ErrAuthorRequired, with one line per signature that failed saying why
// (an untrusted issuer, an expired certificate, a signature of another
// digest, a malformed envelope). It never fetches anything except OCSP or
// CRL responses the certificates themselves point to.
func Verify(ctx context.Context, rule *Rule, name string, subject ocispec.Descriptor, sigs []Envelope) (*Result, error) {
	ref := fmt.Sprintf("%s@%s", name, subject.Digest)
	if len(sigs) == 0 {
		return nil, fmt.Errorf("%s: %w: it has no signatures", ref, ErrUnsigned)
	}
	registry, err := newVerifier(rule, storeRegistry)
	if err != nil {
		return nil, err
	}
	var authors notation.Verifier
	if len(rule.Authors) > 0 {
		if authors, err = newVerifier(rule, storeAuthors); err != nil {
			return nil, err
		}
	}
	res := &Result{Rule: rule.Name}
	var failures []string
	for _, sig := range sigs {
		info, err := Inspect(sig.MediaType, sig.Data, subject)
		if err != nil {
			failures = append(failures, fmt.Sprintf("signature %s: %v", sig.Digest, err))
			continue
		}
		opts := notation.VerifierVerifyOptions{
			// The registry part is a placeholder: notation selects policies by
			// it, and the only policy here has the wildcard scope.
			ArtifactReference:  "capcenter.invalid/" + ref,
			SignatureMediaType: sig.MediaType,
		}
		v := Verified{Digest: sig.Digest, Signer: info.Signer, Fingerprint: info.Fingerprint, SignedAt: info.SignedAt}
		regUntrusted, regErr := verifyOne(ctx, registry, subject, sig.Data, opts)
		if regErr == nil {
			res.Registry = append(res.Registry, v)
			continue
		}
		if authors != nil {
			authUntrusted, authErr := verifyOne(ctx, authors, subject, sig.Data, opts)
			if authErr == nil {
				res.Authors = append(res.Authors, v)
				continue
			}
			// Say the more telling of the two reasons: a failure past the
			// trust check (an expired certificate) rather than "untrusted".
			if regUntrusted && !authUntrusted {
				regErr = authErr
			}
		}
		failures = append(failures, fmt.Sprintf("signature %s by %q: %s", sig.Digest, info.Signer, reason(regErr)))
	}
	detail := ""
	if len(failures) > 0 {
		detail = ":\n  " + strings.Join(failures, "\n  ")
	}
	switch {
	case len(res.Registry) == 0:
		if len(res.Authors) > 0 {
			detail = fmt.Sprintf(" (%d verified as author signatures)", len(res.Authors)) + detail
		}
		return res, fmt.Errorf("%s: %w: none of its %d signatures verifies against the registry certificates of trust rule %q%s",
			ref, ErrUntrusted, len(sigs), rule.Name, detail)
	case rule.RequireAuthor && len(res.Authors) == 0:
		return res, fmt.Errorf("%s: %w: trust rule %q requires an author signature, and none of its %d signatures verifies against the rule's author certificates%s",
			ref, ErrAuthorRequired, rule.Name, len(sigs), detail)
	}
	return res, nil
}

// newVerifier returns a notation verifier that trusts the certificates of
// one of rule's stores, at the strict level, for every artifact.
func newVerifier(rule *Rule, store string) (notation.Verifier, error) {
	doc := &trustpolicy.Document{
		Version: "1.0",
		TrustPolicies: []trustpolicy.TrustPolicy{{
			Name:                  store,
			RegistryScopes:        []string{"*"},
			SignatureVerification: trustpolicy.SignatureVerification{VerificationLevel: trustpolicy.LevelStrict.Name},
			TrustStores:           []string{string(truststore.TypeCA) + ":" + store},
			TrustedIdentities:     []string{"*"},
		}},
	}
	v, err := verifier.NewWithOptions(doc, ruleStore{rule}, nil, verifier.VerifierOptions{})
	if err != nil {
		return nil, fmt.Errorf("trust rule %q: %w", rule.Name, err)
	}
	return v, nil
}

// ruleStore serves a rule's certificates to notation as two CA trust
// stores.
type ruleStore struct{ rule *Rule }

func (s ruleStore) GetCertificates(_ context.Context, typ truststore.Type, name string) ([]*x509.Certificate, error) {
	if typ != truststore.TypeCA {
		return nil, truststore.TrustStoreError{Msg: fmt.Sprintf("trust rule %q has no %s trust store", s.rule.Name, typ)}
	}
	var certs []*x509.Certificate
	switch name {
	case storeRegistry:
		certs = s.rule.Registry
	case storeAuthors:
		certs = s.rule.Authors
	}
	if len(certs) == 0 {
		return nil, truststore.TrustStoreError{Msg: fmt.Sprintf("trust rule %q trusts no certificates for %s", s.rule.Name, strings.TrimPrefix(name, "capcenter-"))}
	}
	return certs, nil
}

// verifyOne verifies one envelope with v; untrusted reports whether it
// failed at the authenticity check, the chain not leading to a trusted
// certificate, rather than at a later one.
func verifyOne(ctx context.Context, v notation.Verifier, subject ocispec.Descriptor, env []byte, opts notation.VerifierVerifyOptions) (untrusted bool, err error) {
	outcome, err := v.Verify(ctx, subject, env, opts)
	if err == nil || outcome == nil {
		return false, err
	}
	for _, r := range outcome.VerificationResults {
		if r != nil && r.Type == trustpolicy.TypeAuthenticity && r.Error != nil {
			return true, err
		}
	}
	return false, err
}

// reason words one notation failure.
func reason(err error) string {
	var inconclusive notation.VerificationInconclusiveError
	if errors.As(err, &inconclusive) {
		return "inconclusive: " + inconclusive.Msg
	}
	var failed notation.VerificationFailedError
	if errors.As(err, &failed) && failed.Msg != "" {
		return failed.Msg
	}
	return err.Error()
}
