package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/capcenter/capcenter/client"
	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
)

// Where capctl finds the registry, and how it connects, when the flags do
// not say.
const (
	serverEnv     = "CAPCENTER_SERVER"
	defaultServer = "127.0.0.1:9460"
	caEnv         = "CAPCENTER_CA"
	tlsEnv        = "CAPCENTER_TLS"
	tokenEnv      = "CAPCENTER_TOKEN"
)

// globalOptions are the persistent flags every registry verb shares.
type globalOptions struct {
	server      string
	trustPolicy string
	// ca is a PEM file of the CAs to verify the server with; tls turns
	// TLS on with the system's roots. token is never printed.
	ca    string
	tls   bool
	token string
	// tlsGiven reports whether --tls was given, which overrides
	// $CAPCENTER_TLS; nil is never.
	tlsGiven func() bool
}

// defaultServerAddress is $CAPCENTER_SERVER, or defaultServer.
func defaultServerAddress() string {
	if s := os.Getenv(serverEnv); s != "" {
		return s
	}
	return defaultServer
}

// dial connects to the registry, reporting transfers to s.err when it is a
// terminal; every registry verb connects through it. The caller closes the
// client. It fails when $CAPCENTER_TLS is not a boolean, the CA file cannot
// be read, or a token would go in plaintext to a host that is not this
// one; the token is never part of an error.
func (g *globalOptions) dial(s streams) (*client.Client, error) {
	opts, err := g.connection()
	if err != nil {
		return nil, err
	}
	if p := progressBars(s.err); p != nil {
		opts = append(opts, client.WithProgress(p))
	}
	c, err := client.Dial(g.server, opts...)
	switch {
	case errors.Is(err, client.ErrTokenOverPlaintext):
		return nil, fmt.Errorf("--token: %w; connect with --tls or --ca FILE", err)
	case err != nil:
		return nil, fmt.Errorf("--server: %w", err)
	}
	return c, nil
}

// connection returns the client options of --ca, --tls and --token, each
// falling back to its environment variable.
func (g *globalOptions) connection() ([]client.Option, error) {
	useTLS := g.tls
	if v := os.Getenv(tlsEnv); v != "" && (g.tlsGiven == nil || !g.tlsGiven()) {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("%s: want true or false", tlsEnv)
		}
		useTLS = b
	}
	var opts []client.Option
	switch {
	case g.ca != "":
		opts = append(opts, client.WithCAFile(g.ca))
	case useTLS:
		opts = append(opts, client.WithTLS(nil))
	}
	token := g.token
	if token == "" {
		token = os.Getenv(tokenEnv)
	}
	return append(opts, client.WithBearerToken(token)), nil
}

// untrustedHint adds to err, when the registry's certificate was not
// trusted or the registry does not speak what capctl spoke (TLS or
// plaintext), the flags that fix it. gRPC keeps only the text of a
// handshake's error, so this reads the text.
func untrustedHint(err error) error {
	switch msg := err.Error(); {
	case strings.Contains(msg, "x509: certificate signed by unknown authority"):
		return fmt.Errorf("%w\n(the registry's TLS certificate is not trusted: pass the CA that issued it with --ca FILE)", err)
	case strings.Contains(msg, "tls: first record does not look like a TLS handshake"):
		return fmt.Errorf("%w\n(the registry does not serve TLS: leave out --tls and --ca)", err)
	case strings.Contains(msg, "error reading server preface"):
		return fmt.Errorf("%w\n(the registry hung up at once: if it serves TLS, connect with --tls or --ca FILE)", err)
	}
	return err
}

// parseExactRef reads NAME@VERSION where a verb needs an exact version.
func parseExactRef(ref string) (name, version string, err error) {
	name, version, err = client.ParseRef(ref)
	if err != nil {
		return "", "", err
	}
	if version == "" || version == client.Latest {
		return "", "", fmt.Errorf("%s: want NAME@VERSION with an exact version, e.g. %s@1.0.0", ref, name)
	}
	return name, version, nil
}

// kindName is a Kind as people write it: "component".
func kindName(k capcenterv1.Kind) string {
	if k == capcenterv1.Kind_KIND_UNSPECIFIED {
		return ""
	}
	return strings.ToLower(strings.TrimPrefix(k.String(), "KIND_"))
}

// parseKind reads --kind; "" is every kind.
func parseKind(s string) (capcenterv1.Kind, error) {
	if s == "" {
		return capcenterv1.Kind_KIND_UNSPECIFIED, nil
	}
	k, ok := capcenterv1.Kind_value["KIND_"+strings.ToUpper(s)]
	if !ok || k == 0 {
		return 0, fmt.Errorf("--kind %q: want component, trait, policy or controller", s)
	}
	return capcenterv1.Kind(k), nil
}

// shortDigest is the first 12 hex digits of a digest, as tables show it.
func shortDigest(d string) string {
	_, hex, ok := strings.Cut(d, ":")
	if !ok || len(hex) < 12 {
		return d
	}
	return hex[:12]
}

// versionState is a version's state in a word or two, with its message.
func versionState(v *capcenterv1.Version) string {
	var states []string
	if v.GetYanked() {
		states = append(states, withReason("yanked", v.GetYankReason()))
	}
	if v.GetDeprecated() {
		states = append(states, withReason("deprecated", v.GetDeprecationMessage()))
	}
	if len(states) == 0 {
		return "active"
	}
	return strings.Join(states, "; ")
}

func withReason(state, reason string) string {
	if reason == "" {
		return state
	}
	return state + ": " + reason
}

// formatTime shows a time stamp in UTC to the second; "" when unset.
func formatTime(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return ""
	}
	return ts.AsTime().UTC().Format(time.RFC3339)
}

// protoJSON returns messages as JSON-shaped values in the API's JSON form
// (camelCase fields, enum names), ready for writeJSON and writeYAML.
func protoJSON[M proto.Message](msgs ...M) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, len(msgs))
	for i, m := range msgs {
		data, err := protojson.Marshal(m)
		if err != nil {
			return nil, err
		}
		out[i] = data
	}
	return out, nil
}

// writeProto writes one message as JSON or YAML.
func writeProto(s streams, format string, m proto.Message) error {
	vals, err := protoJSON(m)
	if err != nil {
		return err
	}
	if format == formatYAML {
		return writeYAML(s.out, vals[0])
	}
	return writeJSON(s.out, vals[0])
}

// writeProtoList writes messages as a JSON or YAML list.
func writeProtoList[M proto.Message](s streams, format string, msgs []M) error {
	vals, err := protoJSON(msgs...)
	if err != nil {
		return err
	}
	if format == formatYAML {
		return writeYAML(s.out, vals)
	}
	return writeJSON(s.out, vals)
}

// roleName is how a signature's role reads in tables.
func roleName(r capcenterv1.SignatureRole) string {
	switch r {
	case capcenterv1.SignatureRole_SIGNATURE_ROLE_SERVER:
		return "registry"
	case capcenterv1.SignatureRole_SIGNATURE_ROLE_AUTHOR:
		return "author"
	}
	return "unknown"
}
