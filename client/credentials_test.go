package client_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/capcenter/capcenter/client"
	"github.com/capcenter/capcenter/server"
	"github.com/capcenter/capcenter/server/servertest"
)

const secret = "s3cr3t-T0KEN"

// mustDial dials target and closes the client when the test ends.
func mustDial(t *testing.T, target string, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.Dial(target, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestBearerTokenIsSent(t *testing.T) {
	t.Parallel()
	certs := servertest.NewTLS(t)
	for _, tc := range []struct {
		name string
		tls  *servertest.TLS
		opts []client.Option
		want []string
	}{
		{"plaintext to loopback", nil, []client.Option{client.WithBearerToken(secret)}, []string{"Bearer " + secret}},
		{"TLS", certs, []client.Option{client.WithCAFile(certs.CAFile), client.WithBearerToken(secret)}, []string{"Bearer " + secret}},
		{"TLS with a pool", certs, []client.Option{client.WithTLS(certs.Roots), client.WithBearerToken(secret)}, []string{"Bearer " + secret}},
		{"no token", nil, []client.Option{client.WithBearerToken("")}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr, auth := servertest.RecordAuthorization(t, tc.tls)
			c := mustDial(t, addr, tc.opts...)
			if _, err := c.GetCapability(t.Context(), "webservice"); !errors.Is(err, client.ErrNotFound) {
				t.Fatalf("GetCapability = %v, want the recording server's %v", err, client.ErrNotFound)
			}
			if got := <-auth; fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("the server got authorization %q, want %q", got, tc.want)
			}
		})
	}
}

func TestBearerTokenStaysOffThePlaintextNetwork(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		target string
		tls    bool
		ok     bool
	}{
		{"127.0.0.1:9460", false, true},
		{"127.8.9.10:9460", false, true},
		{"[::1]:9460", false, true},
		{"localhost:9460", false, true},
		{"dns:///localhost:9460", false, true},
		{"passthrough:///127.0.0.1:9460", false, true},
		{"unix:///run/capd.sock", false, true},
		{"capd.example.com:9460", false, false},
		{"10.0.0.1:9460", false, false},
		{"[2001:db8::1]:9460", false, false},
		{"dns:///capd.example.com:9460", false, false},
		{"dns://127.0.0.1:53/capd.example.com:9460", false, false},
		{"ipv4:127.0.0.1:9460", false, false},
		{"localhost.example.com:9460", false, false},
		{"capd.example.com:9460", true, true},
	} {
		t.Run(fmt.Sprint(tc.target, tc.tls), func(t *testing.T) {
			t.Parallel()
			opts := []client.Option{client.WithBearerToken(secret)}
			if tc.tls {
				opts = append(opts, client.WithTLS(nil))
			}
			c, err := client.Dial(tc.target, opts...)
			if tc.ok {
				if err != nil {
					t.Fatalf("Dial = %v, want a client", err)
				}
				_ = c.Close()
				return
			}
			if !errors.Is(err, client.ErrTokenOverPlaintext) || !errors.Is(err, client.ErrInvalidArgument) {
				t.Fatalf("Dial = %v, want %v", err, client.ErrTokenOverPlaintext)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the error shows the token: %v", err)
			}
		})
	}
}

func TestBearerTokenMustBePrintable(t *testing.T) {
	t.Parallel()
	for _, token := range []string{"two words", "line\nbreak", "tab\t", "é"} {
		_, err := client.Dial("127.0.0.1:9460", client.WithBearerToken(token))
		if !errors.Is(err, client.ErrInvalidArgument) || strings.Contains(err.Error(), token) {
			t.Errorf("Dial with token %q = %v, want %v without the token", token, err, client.ErrInvalidArgument)
		}
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	certs := servertest.NewTLS(t)
	r := servertest.Start(t, server.Config{}, grpc.Creds(credentials.NewTLS(certs.ServerConfig())))
	b := mustLoadBuiltin(t, "webservice")

	c := mustDial(t, r.Addr, client.WithCAFile(certs.CAFile))
	mustPublish(t, c, b)
	if v, err := c.GetVersion(t.Context(), "webservice", ""); err != nil || v.GetVersion() != "1.0.0" {
		t.Errorf("over TLS, GetVersion = %v, %v", v, err)
	}

	for name, opts := range map[string][]client.Option{
		"system roots": {client.WithTLS(nil)},
		"another CA":   {client.WithTLS(servertest.NewTLS(t).Roots)},
	} {
		_, err := mustDial(t, r.Addr, opts...).GetCapability(t.Context(), "webservice")
		if !errors.Is(err, client.ErrUnavailable) || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
			t.Errorf("%s: GetCapability = %v, want %v: the certificate is not trusted", name, err, client.ErrUnavailable)
		}
	}
	// The certificate names 127.0.0.1, ::1 and localhost, not this.
	_, err := mustDial(t, "passthrough:///"+r.Addr, client.WithCAFile(certs.CAFile),
		client.WithDialOptions(grpc.WithAuthority("capd.example.com"))).GetCapability(t.Context(), "webservice")
	if !errors.Is(err, client.ErrUnavailable) || !strings.Contains(err.Error(), "capd.example.com") {
		t.Errorf("under another name, GetCapability = %v, want %v naming it", err, client.ErrUnavailable)
	}
	_, err = mustDial(t, r.Addr).GetCapability(t.Context(), "webservice")
	if !errors.Is(err, client.ErrUnavailable) {
		t.Errorf("plaintext to TLS: GetCapability = %v, want %v", err, client.ErrUnavailable)
	}
}

func TestCAFileErrors(t *testing.T) {
	t.Parallel()
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{filepath.Join(t.TempDir(), "missing.pem"), notPEM} {
		_, err := client.Dial("127.0.0.1:9460", client.WithCAFile(file))
		if !errors.Is(err, client.ErrInvalidArgument) || !strings.Contains(err.Error(), filepath.Base(file)) {
			t.Errorf("Dial with CA file %s = %v, want %v naming the file", file, err, client.ErrInvalidArgument)
		}
	}
}
