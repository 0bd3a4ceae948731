package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// tlsFlags declares --tls-cert and --tls-key.
func tlsFlags(fs *flag.FlagSet, cfg *config, env func(name, def string) string) {
	fs.StringVar(&cfg.tlsCert, "tls-cert", env("CAPD_TLS_CERT", ""),
		"the PEM certificate chain, leaf first, to serve gRPC and HTTP over TLS (1.2 or later) with; needs --tls-key, and its leaf must list a DNS name or IP address (env CAPD_TLS_CERT)")
	fs.StringVar(&cfg.tlsKey, "tls-key", env("CAPD_TLS_KEY", ""),
		"the PEM private key of --tls-cert (env CAPD_TLS_KEY)")
}

// checkTLS fails when only one of --tls-cert and --tls-key is set.
func checkTLS(cfg config) error {
	if (cfg.tlsCert == "") != (cfg.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key (CAPD_TLS_CERT, CAPD_TLS_KEY) go together: give both to serve TLS, or neither")
	}
	return nil
}

// serverTLS is how capd serves TLS. A nil *serverTLS serves plaintext.
type serverTLS struct {
	certFile string
	// served is the configuration of both ports.
	served *tls.Config
	// gateway is the configuration of the REST gateway's connection to
	// the gRPC port on the loopback address: it trusts the served leaf
	// certificate alone, under a name the leaf lists.
	gateway *tls.Config
}

// loadTLS reads the certificate and key cfg names; nil without them. It
// fails when they cannot be read, do not match, or the leaf lists no DNS
// name or IP address to verify it under.
func loadTLS(cfg config) (*serverTLS, error) {
	if cfg.tlsCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.tlsCert, cfg.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert %s, --tls-key %s: %w", cfg.tlsCert, cfg.tlsKey, err)
	}
	leaf := cert.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("--tls-cert %s: %w", cfg.tlsCert, err)
		}
	}
	var name string
	switch {
	case len(leaf.DNSNames) > 0:
		name = leaf.DNSNames[0]
	case len(leaf.IPAddresses) > 0:
		name = leaf.IPAddresses[0].String()
	default:
		return nil, fmt.Errorf("--tls-cert %s: the certificate lists no DNS name or IP address (subject alternative name) that clients could verify", cfg.tlsCert)
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return &serverTLS{
		certFile: cfg.tlsCert,
		served:   &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		gateway:  &tls.Config{RootCAs: roots, ServerName: name, MinVersion: tls.VersionTLS12},
	}, nil
}

// serverOptions are the gRPC server's options for s.
func (s *serverTLS) serverOptions() []grpc.ServerOption {
	if s == nil {
		return nil
	}
	return []grpc.ServerOption{grpc.Creds(credentials.NewTLS(s.served))}
}

// gatewayCredentials are the credentials of the gateway's connection to
// the gRPC port.
func (s *serverTLS) gatewayCredentials() credentials.TransportCredentials {
	if s == nil {
		return insecure.NewCredentials()
	}
	return credentials.NewTLS(s.gateway)
}

// httpConfig is the HTTP server's TLS configuration; nil for plaintext.
func (s *serverTLS) httpConfig() *tls.Config {
	if s == nil {
		return nil
	}
	return s.served
}

// serveHTTP serves hs on lis, over TLS when hs has a TLS configuration.
func serveHTTP(hs *http.Server, lis net.Listener) error {
	if hs.TLSConfig == nil {
		return hs.Serve(lis)
	}
	return hs.ServeTLS(lis, "", "")
}
