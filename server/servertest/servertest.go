// Package servertest runs a real capd service for the tests of the
// packages that talk to one (client, capctl): the server package over the
// embedded store in a temporary folder, signing with a fresh local CA, on
// a loopback port. It is the one place those tests build a registry, so
// that a change in what a server needs changes one file.
package servertest

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/grpc"

	"github.com/capcenter/capcenter/capabilities/signature"
	"github.com/capcenter/capcenter/server"
	"github.com/capcenter/capcenter/store/embedded"
)

// Registry is a running service.
type Registry struct {
	// Addr is the gRPC address, 127.0.0.1:port.
	Addr   string
	Server *server.Server
	Store  *embedded.Store
	// CA issued Signing, the key the server signs every publish with.
	CA, Signing *signature.KeyPair
}

// Start starts a registry with cfg, whose Store and Signer it fills, and
// opts added to the gRPC server's own (grpc.Creds for TLS, say), and stops
// it when the test ends. It fails the test when any part does not start.
func Start(t testing.TB, cfg server.Config, opts ...grpc.ServerOption) *Registry {
	t.Helper()
	st, err := embedded.Open(t.TempDir(), embedded.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	ca, signing := NewKeys(t, "test registry")
	signer, err := signature.NewSigner(signing)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store, cfg.Signer = st, signer
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(append(srv.ServerOptions(), opts...)...)
	srv.Register(g)
	lis, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	return &Registry{Addr: lis.Addr().String(), Server: srv, Store: st, CA: ca, Signing: signing}
}

// NewKeys makes a root CA and a signing key it issued, both named after
// name.
func NewKeys(t testing.TB, name string) (ca, signing *signature.KeyPair) {
	t.Helper()
	ca, err := signature.NewCA(signature.CertOptions{CommonName: name + " CA", Organization: "capcenter tests"})
	if err != nil {
		t.Fatal(err)
	}
	signing, err = signature.Issue(ca, signature.CertOptions{CommonName: name, Organization: "capcenter tests"})
	if err != nil {
		t.Fatal(err)
	}
	return ca, signing
}

// WritePolicy writes a trust policy file into a temporary folder whose one
// rule trusts the registry's CA for every capability, with authors (CA
// key pairs, possibly none) trusted as authors and required when
// requireAuthor; it returns the file's path.
func (r *Registry) WritePolicy(t testing.TB, requireAuthor bool, authors ...*signature.KeyPair) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("registry.pem", signature.EncodeCertificates(r.CA.Root()))
	policy := "version: 1\nrules:\n  - name: test\n    match: [\"**\"]\n    registryCertificates: [registry.pem]\n"
	if len(authors) > 0 {
		var pem []byte
		for _, a := range authors {
			pem = append(pem, signature.EncodeCertificates(a.Root())...)
		}
		write("authors.pem", pem)
		policy += "    authorCertificates: [authors.pem]\n"
	}
	if requireAuthor {
		policy += "    requireAuthorSignature: true\n"
	}
	write("trust.yaml", []byte(policy))
	return filepath.Join(dir, "trust.yaml")
}
