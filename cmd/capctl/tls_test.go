package main

import (
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/capcenter/capcenter/server"
	"github.com/capcenter/capcenter/server/servertest"
)

const secret = "s3cr3t-T0KEN"

// mustServeTLS starts a real registry serving certs over TLS.
func mustServeTLS(t *testing.T, certs *servertest.TLS) *servertest.Registry {
	t.Helper()
	return servertest.Start(t, server.Config{}, grpc.Creds(credentials.NewTLS(certs.ServerConfig())))
}

func TestTLSPushPullSearch(t *testing.T) {
	t.Parallel()
	certs := servertest.NewTLS(t)
	r := mustServeTLS(t, certs)
	tlsFlags := []string{"--server", r.Addr, "--ca", certs.CAFile, "--trust-policy", r.WritePolicy(t, false)}
	mustCapctl(t, append(tlsFlags, "push", mustInit(t, "acme/web", "1.2.0"))...)
	mustCapctl(t, append(tlsFlags, "pull", "acme/web@1.2.0", "--dir", filepath.Join(t.TempDir(), "pulled"))...)
	if out := mustCapctl(t, append(tlsFlags, "search", "web")...); !strings.Contains(out, "acme/web") {
		t.Errorf("search over TLS printed %q", out)
	}

	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"system roots", []string{"--tls"}, []string{"certificate signed by unknown authority", "not trusted", "--ca"}},
		{"plaintext", nil, []string{"unavailable", "--tls or --ca"}},
		{"another CA", []string{"--ca", servertest.NewTLS(t).CAFile}, []string{"not trusted"}},
	} {
		_, err := capctl(t, append(append([]string{"--server", r.Addr}, tc.args...), "search", "web")...)
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: err = %v, want it to say %q", tc.name, err, w)
			}
		}
	}
	plain := mustServe(t)
	if _, err := capctl(t, "--server", plain, "--tls", "search", "web"); err == nil || !strings.Contains(err.Error(), "does not serve TLS") {
		t.Errorf("--tls to a plaintext registry: err = %v, want a hint that it does not serve TLS", err)
	}
}

func TestTokenIsSent(t *testing.T) {
	t.Parallel()
	certs := servertest.NewTLS(t)
	for _, tc := range []struct {
		name  string
		certs *servertest.TLS
		args  []string
	}{
		{"plaintext to loopback", nil, nil},
		{"TLS", certs, []string{"--ca", certs.CAFile}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr, auth := servertest.RecordAuthorization(t, tc.certs)
			out, err := capctl(t, append(append([]string{"--server", addr, "--token", secret}, tc.args...), "show", "webservice")...)
			if err == nil || !strings.Contains(err.Error(), "not found") {
				t.Fatalf("show = %v, want the recording server's not found", err)
			}
			if got := <-auth; len(got) != 1 || got[0] != "Bearer "+secret {
				t.Errorf("the server got authorization %q, want the bearer token", got)
			}
			if strings.Contains(out+err.Error(), secret) {
				t.Errorf("capctl printed the token: %s %v", out, err)
			}
		})
	}
}

func TestTokenOverPlaintextIsRefused(t *testing.T) {
	t.Parallel()
	for _, target := range []string{"capd.example.com:9460", "10.1.2.3:9460", "dns:///capd.example.com:9460"} {
		out, err := capctl(t, "--server", target, "--token", secret, "search", "web")
		if err == nil || !strings.Contains(err.Error(), "--token") || !strings.Contains(err.Error(), "--tls or --ca") {
			t.Errorf("--token to %s in plaintext: err = %v, want a refusal naming --token and --tls", target, err)
		}
		if err != nil && strings.Contains(out+err.Error(), secret) {
			t.Errorf("capctl printed the token: %s %v", out, err)
		}
	}
}

// TestConnectionEnvironment sets variables, so it does not run in parallel.
func TestConnectionEnvironment(t *testing.T) {
	certs := servertest.NewTLS(t)
	r := mustServeTLS(t, certs)
	t.Setenv(tokenEnv, secret)
	t.Setenv(tlsEnv, "true")
	if _, err := capctl(t, "--server", r.Addr, "search", "web"); err == nil || !strings.Contains(err.Error(), "not trusted") {
		t.Errorf("with $%s, err = %v; want TLS with the system roots, which do not trust the test CA", tlsEnv, err)
	}
	if _, err := capctl(t, "--server", r.Addr, "--tls=false", "search", "web"); err == nil || strings.Contains(err.Error(), "not trusted") {
		t.Errorf("--tls=false over $%s: err = %v; want plaintext", tlsEnv, err)
	}
	t.Setenv(caEnv, certs.CAFile)
	mustCapctl(t, "--server", r.Addr, "search", "web")
	if out := mustCapctl(t, "search", "--help"); strings.Contains(out, secret) {
		t.Errorf("help shows the token from $%s:\n%s", tokenEnv, out)
	}

	addr, auth := servertest.RecordAuthorization(t, nil)
	t.Setenv(caEnv, "")
	t.Setenv(tlsEnv, "")
	if _, err := capctl(t, "--server", addr, "show", "webservice"); err == nil {
		t.Fatal("the recording server answered")
	}
	if got := <-auth; len(got) != 1 || got[0] != "Bearer "+secret {
		t.Errorf("the server got authorization %q, want $%s", got, tokenEnv)
	}
	t.Setenv(tlsEnv, "maybe")
	if _, err := capctl(t, "--server", addr, "show", "webservice"); err == nil || !strings.Contains(err.Error(), tlsEnv) {
		t.Errorf("with $%s=maybe, err = %v; want it named", tlsEnv, err)
	}
}
