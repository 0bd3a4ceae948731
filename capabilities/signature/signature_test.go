package signature

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	notationsig "github.com/notaryproject/notation-core-go/signature"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"
)

// fixture is a registry CA with a signing key, an author CA with a
// signing key, and a subject to sign.
type fixture struct {
	registryCA, registry *KeyPair
	authorCA, author     *KeyPair
	subject              ocispec.Descriptor
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{
		registryCA: mustCA(t, "registry CA"),
		authorCA:   mustCA(t, "author CA"),
		subject:    content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, []byte(`{"schemaVersion":2}`)),
	}
	f.registry = mustIssue(t, f.registryCA, "capd")
	f.author = mustIssue(t, f.authorCA, "alice")
	return f
}

func mustCA(t *testing.T, cn string) *KeyPair {
	t.Helper()
	ca, err := NewCA(CertOptions{CommonName: cn, Organization: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func mustIssue(t *testing.T, ca *KeyPair, cn string) *KeyPair {
	t.Helper()
	kp, err := Issue(ca, CertOptions{CommonName: cn, Organization: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

func mustSign(t *testing.T, kp *KeyPair, subject ocispec.Descriptor) Envelope {
	t.Helper()
	s, err := NewSigner(kp)
	if err != nil {
		t.Fatal(err)
	}
	env, err := s.Sign(context.Background(), subject)
	if err != nil {
		t.Fatal(err)
	}
	return Envelope{Digest: "sha256:" + kp.Leaf().Subject.CommonName, MediaType: MediaTypeJWS, Data: env.Envelope}
}

// signAt signs subject as if at time at, bypassing the signer's clock:
// how a signature made while a since-expired certificate was valid looks.
func signAt(t *testing.T, kp *KeyPair, subject ocispec.Descriptor, at time.Time) Envelope {
	t.Helper()
	local, err := notationsig.NewLocalSigner(kp.Chain, kp.Key)
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(payload{TargetArtifact: ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}})
	if err != nil {
		t.Fatal(err)
	}
	env, err := notationsig.NewEnvelope(MediaTypeJWS)
	if err != nil {
		t.Fatal(err)
	}
	data, err := env.Sign(&notationsig.SignRequest{
		Payload:       notationsig.Payload{ContentType: payloadMediaType, Content: body},
		Signer:        local,
		SigningTime:   at,
		SigningScheme: notationsig.SigningSchemeX509,
	})
	if err != nil {
		t.Fatal(err)
	}
	return Envelope{Digest: "sha256:backdated", MediaType: MediaTypeJWS, Data: data}
}

func TestSignAndInspect(t *testing.T) {
	f := newFixture(t)
	sig := mustSign(t, f.registry, f.subject)
	info, err := Inspect(sig.MediaType, sig.Data, f.subject)
	if err != nil {
		t.Fatal(err)
	}
	if info.Fingerprint != Fingerprint(f.registry.Leaf()) || !strings.Contains(info.Signer, "CN=capd") {
		t.Errorf("Inspect = signer %q, fingerprint %s; want CN=capd, %s", info.Signer, info.Fingerprint, Fingerprint(f.registry.Leaf()))
	}
	if time.Since(info.SignedAt) > time.Minute || len(info.Chain) != 2 {
		t.Errorf("Inspect = signed at %v, chain of %d; want now, 2", info.SignedAt, len(info.Chain))
	}

	// The manifest Push writes is a referrer of the subject with the
	// envelope as its only layer.
	mem := memory.New()
	desc, err := Push(context.Background(), mem, f.subject, info, RoleServer)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := content.FetchAll(context.Background(), mem, desc)
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m.ArtifactType != ArtifactType || m.Subject == nil || m.Subject.Digest != f.subject.Digest || len(m.Layers) != 1 || m.Layers[0].MediaType != MediaTypeJWS {
		t.Errorf("signature manifest = %s", raw)
	}
	if m.Annotations[AnnotationRole] != RoleServer || !strings.Contains(m.Annotations[AnnotationThumbprints], info.Fingerprint) {
		t.Errorf("annotations = %v", m.Annotations)
	}
	env, err := content.FetchAll(context.Background(), mem, m.Layers[0])
	if err != nil || !bytes.Equal(env, sig.Data) {
		t.Errorf("layer = %q, %v; want the envelope", env, err)
	}
}

func TestInspectRejects(t *testing.T) {
	f := newFixture(t)
	good := mustSign(t, f.registry, f.subject)
	other := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, []byte(`{"schemaVersion":2,"other":true}`))
	tampered := bytes.Clone(good.Data)
	// Change one character of the base64url signature near the end.
	i := bytes.LastIndex(tampered, []byte(`"signature":"`)) + len(`"signature":"`) + 5
	if tampered[i] == 'A' {
		tampered[i] = 'B'
	} else {
		tampered[i] = 'A'
	}
	tests := []struct {
		name      string
		mediaType string
		env       []byte
		subject   ocispec.Descriptor
		want      error
		say       string
	}{
		{"another digest", MediaTypeJWS, good.Data, other, ErrWrongSubject, "it signs " + f.subject.Digest.String()},
		{"tampered signature", MediaTypeJWS, tampered, f.subject, ErrInvalidSignature, "signature"},
		{"garbage", MediaTypeJWS, []byte("{not json"), f.subject, ErrInvalidSignature, ""},
		{"empty", MediaTypeJWS, nil, f.subject, ErrInvalidSignature, ""},
		{"unknown media type", "application/pgp-signature", good.Data, f.subject, ErrInvalidSignature, "media type"},
		{"cose bytes that are JWS", "application/cose", good.Data, f.subject, ErrInvalidSignature, ""},
		{"too large", MediaTypeJWS, make([]byte, MaxEnvelopeSize+1), f.subject, ErrInvalidSignature, "more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Inspect(tt.mediaType, tt.env, tt.subject)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.say) {
				t.Fatalf("Inspect = %v; want %v saying %q", err, tt.want, tt.say)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	f := newFixture(t)
	stranger := mustIssue(t, mustCA(t, "stranger CA"), "mallory")
	otherSubject := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, []byte(`{"schemaVersion":2,"x":1}`))

	// A certificate valid only around a time two days ago: a signature
	// made then verifies against nothing now.
	past := time.Now().Add(-48 * time.Hour)
	expiredCA, err := NewCA(CertOptions{CommonName: "old CA", NotBefore: past.Add(-24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	expired, err := Issue(expiredCA, CertOptions{CommonName: "old", NotBefore: past.Add(-time.Hour), Validity: 2 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}

	registryOnly := &Rule{Name: "registry", Match: []string{"**"}, Registry: f.registryCA.Chain}
	withAuthors := &Rule{Name: "authors", Match: []string{"**"}, Registry: f.registryCA.Chain, Authors: f.authorCA.Chain}
	authorRequired := &Rule{Name: "strict", Match: []string{"**"}, Registry: f.registryCA.Chain, Authors: f.authorCA.Chain, RequireAuthor: true}
	expiredTrusted := &Rule{Name: "expired", Match: []string{"**"}, Registry: expiredCA.Chain}

	tests := []struct {
		name          string
		rule          *Rule
		sigs          []Envelope
		want          error
		say           string
		registry, aut int
	}{
		{"registry signature", registryOnly, []Envelope{mustSign(t, f.registry, f.subject)}, nil, "", 1, 0},
		{"registry and author", withAuthors, []Envelope{mustSign(t, f.registry, f.subject), mustSign(t, f.author, f.subject)}, nil, "", 1, 1},
		{"author required and present", authorRequired, []Envelope{mustSign(t, f.author, f.subject), mustSign(t, f.registry, f.subject)}, nil, "", 1, 1},
		{"no signatures", registryOnly, nil, ErrUnsigned, "no signatures", 0, 0},
		{"untrusted certificate", registryOnly, []Envelope{mustSign(t, stranger, f.subject)}, ErrUntrusted, "trusted", 0, 0},
		{"author signature only", withAuthors, []Envelope{mustSign(t, f.author, f.subject)}, ErrUntrusted, "registry certificates", 0, 1},
		{"expired certificate", expiredTrusted, []Envelope{signAt(t, expired, f.subject, past)}, ErrUntrusted, "expired", 0, 0},
		{"signature over another digest", registryOnly, []Envelope{mustSign(t, f.registry, otherSubject)}, ErrUntrusted, "it signs " + otherSubject.Digest.String(), 0, 0},
		{"author signature required", authorRequired, []Envelope{mustSign(t, f.registry, f.subject)}, ErrAuthorRequired, "requires an author signature", 1, 0},
		{"author signed by an untrusted CA", authorRequired, []Envelope{mustSign(t, f.registry, f.subject), mustSign(t, stranger, f.subject)}, ErrAuthorRequired, "mallory", 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Verify(context.Background(), tt.rule, "acme/gateway", f.subject, tt.sigs)
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("Verify: %v", err)
			case tt.want == nil:
			case !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.say):
				t.Fatalf("Verify = %v; want %v saying %q", err, tt.want, tt.say)
			default:
				t.Logf("rejected as it should be:\n%v", err)
			}
			if res != nil && (len(res.Registry) != tt.registry || len(res.Authors) != tt.aut) {
				t.Errorf("verified %d registry and %d author signatures; want %d and %d", len(res.Registry), len(res.Authors), tt.registry, tt.aut)
			}
		})
	}
}

func TestKeyPairs(t *testing.T) {
	f := newFixture(t)
	keyPEM, err := EncodeKey(f.registry.Key)
	if err != nil {
		t.Fatal(err)
	}
	chainPEM := EncodeCertificates(f.registry.Chain...)
	kp, err := ParseKeyPair(keyPEM, "k.pem", chainPEM, "c.pem")
	if err != nil {
		t.Fatal(err)
	}
	if Fingerprint(kp.Leaf()) != Fingerprint(f.registry.Leaf()) || Fingerprint(kp.Root()) != Fingerprint(f.registryCA.Leaf()) {
		t.Error("ParseKeyPair did not return the chain it was given")
	}
	otherKey, err := EncodeKey(f.author.Key)
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := EncodeKey(f.registryCA.Key)
	if err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		name      string
		key, cert []byte
		say       string
	}{
		{"key of another certificate", otherKey, chainPEM, "does not match"},
		{"leaf without its CA", keyPEM, EncodeCertificates(f.registry.Leaf()), "must continue"},
		{"CA as a signing key", caKey, EncodeCertificates(f.registryCA.Chain...), "chain holds only"},
		{"chain in the wrong order", keyPEM, EncodeCertificates(f.registryCA.Leaf(), f.registry.Leaf()), "does not match"},
		{"not a key", []byte("hello"), chainPEM, "k.pem"},
		{"not a chain", keyPEM, []byte("hello"), "c.pem"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseKeyPair(tt.key, "k.pem", tt.cert, "c.pem")
			if !errors.Is(err, ErrInvalidKey) || !strings.Contains(err.Error(), tt.say) {
				t.Fatalf("ParseKeyPair = %v; want ErrInvalidKey saying %q", err, tt.say)
			}
		})
	}
	ca, err := ParseCA(caKey, "ca.key", EncodeCertificates(f.registryCA.Leaf()), "ca.crt")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Issue(ca, CertOptions{CommonName: "next"}); err != nil {
		t.Errorf("Issue from a parsed CA: %v", err)
	}
	if _, err := ParseCA(keyPEM, "k.pem", EncodeCertificates(f.registry.Leaf()), "c.pem"); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("ParseCA of a signing certificate = %v; want ErrInvalidKey", err)
	}
}

func FuzzInspect(f *testing.F) {
	ca, err := NewCA(CertOptions{CommonName: "fuzz CA"})
	if err != nil {
		f.Fatal(err)
	}
	kp, err := Issue(ca, CertOptions{CommonName: "fuzz"})
	if err != nil {
		f.Fatal(err)
	}
	subject := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, []byte(`{}`))
	s, err := NewSigner(kp)
	if err != nil {
		f.Fatal(err)
	}
	env, err := s.Sign(context.Background(), subject)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(env.Envelope, true)
	f.Add(env.Envelope, false)
	f.Fuzz(func(t *testing.T, data []byte, jws bool) {
		mt := "application/cose"
		if jws {
			mt = MediaTypeJWS
		}
		info, err := Inspect(mt, data, subject)
		if err != nil {
			if !errors.Is(err, ErrInvalidSignature) && !errors.Is(err, ErrWrongSubject) {
				t.Fatalf("Inspect error %v wraps neither sentinel", err)
			}
			return
		}
		if len(info.Chain) == 0 || info.Fingerprint != Fingerprint(info.Chain[0]) {
			t.Fatalf("Inspect accepted an envelope and returned %+v", info)
		}
	})
}

// BenchmarkSign is what capd adds to every publish, and BenchmarkInspect
// what it does with every uploaded signature.
func BenchmarkSign(b *testing.B) {
	s, subject := benchSigner(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := s.Sign(ctx, subject); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkInspect(b *testing.B) {
	s, subject := benchSigner(b)
	info, err := s.Sign(context.Background(), subject)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Inspect(MediaTypeJWS, info.Envelope, subject); err != nil {
			b.Fatal(err)
		}
	}
}

// benchSigner is a signer under a fresh CA and a subject for it to sign.
func benchSigner(b *testing.B) (*Signer, ocispec.Descriptor) {
	b.Helper()
	ca, err := NewCA(CertOptions{CommonName: "bench CA"})
	if err != nil {
		b.Fatal(err)
	}
	kp, err := Issue(ca, CertOptions{CommonName: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	s, err := NewSigner(kp)
	if err != nil {
		b.Fatal(err)
	}
	return s, content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, []byte(`{"schemaVersion":2}`))
}
