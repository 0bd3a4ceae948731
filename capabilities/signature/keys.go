package signature

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	notationx509 "github.com/notaryproject/notation-core-go/x509"
)

// ErrInvalidKey is wrapped when a key or certificate chain cannot sign:
// unparsable PEM, a key that does not match the leaf certificate, or a
// chain that is not a valid code-signing chain (leaf first, ending in a
// self-signed root, each certificate issued by the next).
var ErrInvalidKey = errors.New("invalid signing key")

// KeyPair is a private key and the certificate chain that vouches for it,
// leaf first and root last.
type KeyPair struct {
	Key   crypto.Signer
	Chain []*x509.Certificate
}

// Leaf returns the signing certificate.
func (k *KeyPair) Leaf() *x509.Certificate { return k.Chain[0] }

// Root returns the self-signed root of the chain.
func (k *KeyPair) Root() *x509.Certificate { return k.Chain[len(k.Chain)-1] }

// Validity periods of generated certificates.
const (
	// CAValidity is how long a generated root CA is valid.
	CAValidity = 10 * 365 * 24 * time.Hour
	// SigningValidity is how long a generated signing certificate is valid.
	SigningValidity = 2 * 365 * 24 * time.Hour
)

// CertOptions describe a certificate to generate. Zero NotBefore means now
// minus a minute (for clock skew); zero Validity means the default for the
// certificate's kind.
type CertOptions struct {
	// CommonName and Organization form the subject.
	CommonName   string
	Organization string
	NotBefore    time.Time
	Validity     time.Duration
}

func (o CertOptions) subject() pkix.Name {
	n := pkix.Name{CommonName: o.CommonName}
	if o.Organization != "" {
		n.Organization = []string{o.Organization}
	}
	return n
}

func (o CertOptions) window(def time.Duration) (time.Time, time.Time) {
	nb := o.NotBefore
	if nb.IsZero() {
		nb = time.Now().Add(-time.Minute)
	}
	v := o.Validity
	if v == 0 {
		v = def
	}
	return nb.UTC().Truncate(time.Second), nb.Add(v).UTC().Truncate(time.Second)
}

// NewCA generates an ECDSA P-256 key and a self-signed root CA certificate
// that may issue signing certificates (path length 0), valid for
// CAValidity unless o says otherwise. It fails only when the system's
// random source does.
func NewCA(o CertOptions) (*KeyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	nb, na := o.window(CAValidity)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               o.subject(),
		NotBefore:             nb,
		NotAfter:              na,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	return &KeyPair{Key: key, Chain: []*x509.Certificate{cert}}, nil
}

// Issue generates an ECDSA P-256 key and a code-signing certificate for it
// issued by ca, valid for SigningValidity unless o says otherwise; the
// returned chain is the new leaf followed by ca's chain. It fails when ca
// is not a CA.
func Issue(ca *KeyPair, o CertOptions) (*KeyPair, error) {
	if !ca.Leaf().IsCA {
		return nil, fmt.Errorf("issue %q: %q is not a CA certificate: %w", o.CommonName, ca.Leaf().Subject, ErrInvalidKey)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	nb, na := o.window(SigningValidity)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               o.subject(),
		NotBefore:             nb,
		NotAfter:              na,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Leaf(), key.Public(), ca.Key)
	if err != nil {
		return nil, fmt.Errorf("issue %q: %w", o.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse signing certificate: %w", err)
	}
	return &KeyPair{Key: key, Chain: append([]*x509.Certificate{cert}, ca.Chain...)}, nil
}

// serial returns a random 128-bit certificate serial number.
func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // crypto/rand does not fail on supported systems
	}
	return n.Add(n, big.NewInt(1))
}

// ParseKeyPair parses a PEM private key (PKCS #8, SEC 1 EC or PKCS #1 RSA)
// and a PEM certificate chain, leaf first. keyName and certName name the
// inputs in errors. It fails, wrapping ErrInvalidKey, when either does not
// parse, the key does not match the leaf, or the chain is not a valid
// code-signing chain now (it must end in its self-signed root).
func ParseKeyPair(keyPEM []byte, keyName string, certPEM []byte, certName string) (*KeyPair, error) {
	kp, err := parsePEMs(keyPEM, keyName, certPEM, certName)
	if err != nil {
		return nil, err
	}
	if err := kp.Check(time.Now()); err != nil {
		return nil, fmt.Errorf("%s and %s: %w", keyName, certName, err)
	}
	return kp, nil
}

// ParseCA parses a CA's PEM private key and its self-signed certificate,
// for issuing signing certificates. It fails, wrapping ErrInvalidKey, when
// either does not parse, the key does not match, or the certificate is not
// a CA that may sign certificates.
func ParseCA(keyPEM []byte, keyName string, certPEM []byte, certName string) (*KeyPair, error) {
	kp, err := parsePEMs(keyPEM, keyName, certPEM, certName)
	if err != nil {
		return nil, err
	}
	ca := kp.Leaf()
	pub, ok := kp.Key.Public().(interface{ Equal(crypto.PublicKey) bool })
	switch {
	case !ca.IsCA || ca.KeyUsage&x509.KeyUsageCertSign == 0:
		return nil, fmt.Errorf("%s: %w: %q is not a CA certificate", certName, ErrInvalidKey, ca.Subject)
	case !ok || !pub.Equal(ca.PublicKey):
		return nil, fmt.Errorf("%s and %s: %w: the private key does not match the certificate", keyName, certName, ErrInvalidKey)
	}
	return kp, nil
}

// parsePEMs parses a PEM private key and certificates, checking nothing
// about how they relate.
func parsePEMs(keyPEM []byte, keyName string, certPEM []byte, certName string) (*KeyPair, error) {
	key, err := notationx509.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", keyName, ErrInvalidKey, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: %w: %T cannot sign", keyName, ErrInvalidKey, key)
	}
	chain, err := ParseCertificates(certPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", certName, ErrInvalidKey, err)
	}
	return &KeyPair{Key: signer, Chain: chain}, nil
}

// Check reports whether k can sign at time t: its key matches the leaf and
// its chain is a valid code-signing chain then. The error wraps
// ErrInvalidKey and says which rule fails.
func (k *KeyPair) Check(t time.Time) error {
	if len(k.Chain) == 0 {
		return fmt.Errorf("%w: empty certificate chain", ErrInvalidKey)
	}
	pub, ok := k.Key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(k.Leaf().PublicKey) {
		return fmt.Errorf("%w: the private key does not match the certificate %q", ErrInvalidKey, k.Leaf().Subject)
	}
	if len(k.Chain) == 1 {
		return fmt.Errorf("%w: the chain holds only %q: it must continue to the CA that issued it", ErrInvalidKey, k.Leaf().Subject)
	}
	if err := notationx509.ValidateCodeSigningCertChain(k.Chain, &t); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	return nil
}

// EncodeKey returns key as a PKCS #8 PEM block.
func EncodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// EncodeCertificates returns certs as consecutive PEM CERTIFICATE blocks.
func EncodeCertificates(certs ...*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}) // writing to a bytes.Buffer does not fail
	}
	return b.Bytes()
}

// Fingerprint returns the SHA-256 of a certificate's DER bytes in hex, as
// `openssl x509 -fingerprint -sha256` and notation's thumbprints show it
// (lower case, no colons).
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}
