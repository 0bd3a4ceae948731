package main

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/capcenter/capcenter/client"
	"github.com/capcenter/capcenter/server/servertest"
)

func TestParseArgsTLS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		args      []string
		env       map[string]string
		cert, key string
		wantErr   string
	}{
		{name: "flags", args: []string{"--tls-cert", "c.pem", "--tls-key", "k.pem"}, cert: "c.pem", key: "k.pem"},
		{name: "env", env: map[string]string{"CAPD_TLS_CERT": "c", "CAPD_TLS_KEY": "k"}, cert: "c", key: "k"},
		{name: "neither"},
		{name: "cert alone", args: []string{"--tls-cert", "c.pem"}, wantErr: "--tls-cert and --tls-key"},
		{name: "key alone", env: map[string]string{"CAPD_TLS_KEY": "k"}, wantErr: "--tls-cert and --tls-key"},
		{name: "reindex takes none", args: []string{"reindex", "--tls-cert", "c.pem"}, wantErr: "tls-cert"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out strings.Builder
			cfg, err := parseArgs(tt.args, func(k string) string { return tt.env[k] }, &out)
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error()+out.String(), tt.wantErr) {
					t.Fatalf("parseArgs = %v (%s); want an error about %s", err, out.String(), tt.wantErr)
				}
			case err != nil || cfg.tlsCert != tt.cert || cfg.tlsKey != tt.key:
				t.Fatalf("parseArgs = cert %q key %q, %v; want %q, %q", cfg.tlsCert, cfg.tlsKey, err, tt.cert, tt.key)
			}
		})
	}
}

// startTLS runs capd serving certs and returns its gRPC address and HTTP
// URL; it stops when the test ends.
func startTLS(t *testing.T, certs *servertest.TLS) (grpcAddr, httpURL string) {
	t.Helper()
	cfg := config{
		command: "serve", data: t.TempDir(), grpcAddr: "127.0.0.1:0", httpAddr: "127.0.0.1:0",
		logLevel: slog.LevelWarn, shutdownTimeout: 5 * time.Second, tlsCert: certs.CertFile, tlsKey: certs.KeyFile,
	}
	s := serveInBackground(t, cfg)
	if !strings.HasPrefix(s.httpURL, "https://127.0.0.1:") {
		t.Fatalf("second line is not the HTTPS address: %q", s.httpURL)
	}
	if !strings.Contains(s.hint, "capctl --server "+s.grpcAddr+" --ca "+certs.CertFile) {
		t.Errorf("hint line = %q, want --ca", s.hint)
	}
	return s.grpcAddr, s.httpURL
}

// get fetches url with hc and returns the status code.
func get(t *testing.T, hc *http.Client, url string) (int, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

func TestServeTLS(t *testing.T) {
	t.Parallel()
	// The second certificate does not name the loopback address the
	// gateway dials the gRPC port on: the gateway verifies it under the
	// name it lists.
	for name, hosts := range map[string][]string{"loopback": nil, "another name": {"capd.test"}} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			certs := servertest.NewTLS(t, hosts...)
			grpcAddr, httpURL := startTLS(t, certs)
			trusting := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
				RootCAs: certs.Roots, ServerName: certs.Certificate.Leaf.Subject.CommonName, MinVersion: tls.VersionTLS12,
			}}}
			for _, path := range []string{"/healthz", "/v1/capabilities", "/v2/"} {
				if code, err := get(t, trusting, httpURL+path); err != nil || code != http.StatusOK {
					t.Errorf("GET %s = %d, %v; want 200 over HTTPS", path, code, err)
				}
			}
			if _, err := get(t, http.DefaultClient, httpURL+"/healthz"); err == nil || !strings.Contains(err.Error(), "certificate") {
				t.Errorf("GET with the system roots = %v, want a certificate error", err)
			}
			if code, err := get(t, http.DefaultClient, "http://"+strings.TrimPrefix(httpURL, "https://")+"/healthz"); err == nil && code == http.StatusOK {
				t.Error("plain HTTP is served too")
			}
			old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
				RootCAs: certs.Roots, ServerName: certs.Certificate.Leaf.Subject.CommonName, MaxVersion: tls.VersionTLS11,
			}}}
			if _, err := get(t, old, httpURL+"/healthz"); err == nil {
				t.Error("TLS 1.1 is accepted")
			}
			if hosts != nil {
				return
			}
			c, err := client.Dial(grpcAddr, client.WithCAFile(certs.CAFile))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.GetCapability(t.Context(), "webservice"); !errors.Is(err, client.ErrNotFound) {
				t.Errorf("over gRPC with TLS, GetCapability = %v; want %v from the empty registry", err, client.ErrNotFound)
			}
		})
	}
}

func TestServeTLSRefusesBadFiles(t *testing.T) {
	t.Parallel()
	certs, other := servertest.NewTLS(t), servertest.NewTLS(t)
	noNames := writeNoNameCert(t, certs)
	for _, tc := range []struct {
		name, cert, key, want string
	}{
		{"missing", filepath.Join(t.TempDir(), "none.pem"), certs.KeyFile, "none.pem"},
		{"another key", certs.CertFile, other.KeyFile, "private key does not match"},
		{"no names", noNames, certs.KeyFile, "lists no DNS name or IP address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := config{
				command: "serve", data: t.TempDir(), grpcAddr: "127.0.0.1:0", httpAddr: "127.0.0.1:0",
				logLevel: slog.LevelWarn, shutdownTimeout: time.Second, tlsCert: tc.cert, tlsKey: tc.key,
			}
			err := run(t.Context(), cfg, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "--tls-cert") {
				t.Errorf("run = %v, want an error about --tls-cert: %s", err, tc.want)
			}
		})
	}
}

// writeNoNameCert writes a certificate for the key of certs that lists no
// subject alternative name, self-signed, and returns its file.
func writeNoNameCert(t *testing.T, certs *servertest.TLS) string {
	t.Helper()
	template := &x509.Certificate{
		SerialNumber: certs.Certificate.Leaf.SerialNumber, Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, certs.Certificate.Leaf.PublicKey, certs.Certificate.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "nonames.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}
