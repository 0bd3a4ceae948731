package servertest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TLS is a throwaway CA and a server certificate it issued, written as PEM
// files into a temporary folder, for tests of TLS between capd and its
// clients. These are server-auth certificates, unlike the code-signing
// ones of NewKeys.
type TLS struct {
	// CAFile holds the CA certificate, CertFile the server certificate
	// and KeyFile its private key.
	CAFile, CertFile, KeyFile string
	// Roots trusts the CA alone.
	Roots *x509.CertPool
	// Certificate is the server certificate with its key, for a
	// tls.Config.
	Certificate tls.Certificate
}

// NewTLS makes a CA and a server certificate for hosts (DNS names or IP
// addresses), by default 127.0.0.1, ::1 and localhost, with ECDSA P-256
// keys valid for a day. It fails the test when any step does.
func NewTLS(t testing.TB, hosts ...string) *TLS {
	t.Helper()
	if len(hosts) == 0 {
		hosts = []string{"127.0.0.1", "::1", "localhost"}
	}
	now := time.Now()
	caKey, caDER := mustCert(t, &x509.Certificate{
		Subject:   pkix.Name{CommonName: "capcenter test TLS CA", Organization: []string{"capcenter tests"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true, IsCA: true,
	}, nil, nil)
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		Subject:   pkix.Name{CommonName: hosts[0], Organization: []string{"capcenter tests"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			leaf.IPAddresses = append(leaf.IPAddresses, ip)
		} else {
			leaf.DNSNames = append(leaf.DNSNames, h)
		}
	}
	key, der := mustCert(t, leaf, ca, caKey)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := &TLS{
		CAFile:   writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", caDER),
		CertFile: writePEM(t, filepath.Join(dir, "server.pem"), "CERTIFICATE", der),
		KeyFile:  writePEM(t, filepath.Join(dir, "server.key"), "PRIVATE KEY", keyDER),
		Roots:    x509.NewCertPool(),
	}
	out.Roots.AddCert(ca)
	if out.Certificate, err = tls.LoadX509KeyPair(out.CertFile, out.KeyFile); err != nil {
		t.Fatal(err)
	}
	return out
}

// ServerConfig is a TLS configuration serving the certificate.
func (c *TLS) ServerConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{c.Certificate}, MinVersion: tls.VersionTLS12}
}

// mustCert makes a key and a certificate of it from template, issued by
// parent with parentKey, or self-signed when parent is nil.
func mustCert(t testing.TB, template, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (key *ecdsa.PrivateKey, der []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		t.Fatal(err)
	}
	template.SerialNumber = serial
	if parent == nil {
		parent, parentKey = template, key
	}
	der, err = x509.CreateCertificate(rand.Reader, template, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	return key, der
}

// writePEM writes one PEM block to path and returns path.
func writePEM(t testing.TB, path, blockType string, der []byte) string {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
