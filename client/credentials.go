package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// ErrTokenOverPlaintext is wrapped by Dial when a bearer token would travel
// unencrypted to a host that is not this one: with a token, the connection
// must be TLS unless the target is a loopback address or a unix socket.
var ErrTokenOverPlaintext = errors.New("a bearer token is sent over TLS only, or in plaintext to a loopback address")

// WithTLS makes Dial connect over TLS 1.2 or later, verifying the server's
// certificate against roots, or against the system's roots when roots is
// nil. The name verified is the target's host, so dial a name or address
// the certificate lists. A server that is not trusted, or does not speak
// TLS, shows on calls as ErrUnavailable, whose message says why
// ("x509: certificate signed by unknown authority"). New ignores it.
func WithTLS(roots *x509.CertPool) Option {
	return func(o *options) {
		o.transport = func() (credentials.TransportCredentials, error) { return tlsCredentials(roots), nil }
	}
}

// WithCAFile is WithTLS with the roots read from file, one or more PEM
// certificates: the CA that issued the server's certificate, or that
// certificate itself. Dial fails with ErrInvalidArgument, naming file, when
// it cannot be read or holds no certificate.
func WithCAFile(file string) Option {
	return func(o *options) {
		o.transport = func() (credentials.TransportCredentials, error) {
			roots, err := certPool(file)
			if err != nil {
				return nil, err
			}
			return tlsCredentials(roots), nil
		}
	}
}

// WithBearerToken makes Dial send "authorization: Bearer token" with every
// call; an empty token sends nothing. The token goes only over TLS, or in
// plaintext to a loopback target (127.0.0.0/8, ::1, localhost, a unix
// socket): for plaintext to any other host Dial fails with
// ErrTokenOverPlaintext, and for a token with other characters than
// printable ASCII without spaces, with ErrInvalidArgument. No error
// contains the token. New ignores it.
func WithBearerToken(token string) Option {
	return func(o *options) { o.token = token }
}

// transportCredentials returns what Dial connects with: the
// WithTransportCredentials, WithTLS or WithCAFile given last, else
// plaintext.
func (o *options) transportCredentials() (credentials.TransportCredentials, error) {
	if o.transport == nil {
		return insecure.NewCredentials(), nil
	}
	return o.transport()
}

// tlsCredentials verifies servers against roots, or the system's roots
// when roots is nil.
func tlsCredentials(roots *x509.CertPool) credentials.TransportCredentials {
	return credentials.NewTLS(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12})
}

// certPool reads the PEM certificates in file.
func certPool(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("CA file: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("CA file %s: no PEM certificate in it", file)
	}
	return roots, nil
}

// bearer is the per-RPC credential WithBearerToken sets up. It never
// prints the token.
type bearer struct {
	header string
	// private is whether the connection must be private to carry the
	// token: false only for plaintext to a loopback target.
	private bool
}

// newBearer checks token and whether it may be sent to target over a
// connection whose security protocol is protocol ("insecure" for
// plaintext).
func newBearer(target, token, protocol string) (*bearer, error) {
	for _, r := range token {
		if r <= ' ' || r > '~' {
			return nil, fmt.Errorf("bearer token: %w: it holds a space, a control or a non-ASCII character", ErrInvalidArgument)
		}
	}
	plaintext := protocol == insecure.NewCredentials().Info().SecurityProtocol
	if plaintext && !loopbackTarget(target) {
		return nil, fmt.Errorf("%s: %w: %w", target, ErrInvalidArgument, ErrTokenOverPlaintext)
	}
	return &bearer{header: "Bearer " + token, private: !plaintext}, nil
}

// GetRequestMetadata returns the authorization header. Over a connection
// that must be private it fails when the connection is not.
func (b *bearer) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	if b.private {
		ri, _ := credentials.RequestInfoFromContext(ctx)
		if err := credentials.CheckSecurityLevel(ri.AuthInfo, credentials.PrivacyAndIntegrity); err != nil {
			return nil, fmt.Errorf("bearer token withheld: %w", err)
		}
	}
	return map[string]string{"authorization": b.header}, nil
}

// RequireTransportSecurity is false only for plaintext to a loopback
// target, which newBearer has checked.
func (b *bearer) RequireTransportSecurity() bool { return b.private }

// String hides the token from %v.
func (b *bearer) String() string { return "bearer token (redacted)" }

// GoString hides the token from %#v.
func (b *bearer) GoString() string { return b.String() }

// loopbackTarget reports whether the gRPC target names this host: a
// loopback address or localhost, bare or under the dns or passthrough
// scheme, or a unix socket. Anything else, including other schemes, is
// taken as remote.
func loopbackTarget(target string) bool {
	scheme, rest, ok := strings.Cut(target, ":")
	switch {
	case ok && (scheme == "unix" || scheme == "unix-abstract"):
		return true
	case ok && (scheme == "dns" || scheme == "passthrough") && strings.HasPrefix(rest, "//"):
		u, err := url.Parse(target)
		return err == nil && loopbackHost(strings.TrimPrefix(u.Path, "/"))
	}
	return loopbackHost(target)
}

// loopbackHost reports whether endpoint, "host[:port]", is localhost or a
// loopback address.
func loopbackHost(endpoint string) bool {
	host, _, err := net.SplitHostPort(endpoint)
	if err != nil {
		host = strings.TrimSuffix(strings.TrimPrefix(endpoint, "["), "]")
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
