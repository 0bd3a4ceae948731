package auth

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// TokenPrefix starts every token NewToken makes, so that secret scanners
// and people recognize one.
const TokenPrefix = "capd_"

// tokenBytes is how much randomness a token carries.
const tokenBytes = 32

// NewToken returns a new random token: TokenPrefix and 43 base64url
// characters. It fails only when the system's random source does.
func NewToken() (string, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("new token: %w", err)
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// Hash is the hex SHA-256 of token, as the token file holds it.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// isHash reports whether s is 64 lower-case hex digits.
func isHash(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// mustHex decodes a hash isHash accepted.
func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic("auth: unchecked hash: " + err.Error())
	}
	return b
}

// Lookup returns the principal of token, or nil when no token matches.
// It finds the token by its hash, so the time it takes does not depend on
// how much of a secret a guess got right.
func (t *Tokens) Lookup(token string) *Principal {
	if t == nil || token == "" {
		return nil
	}
	return t.byHash[sha256.Sum256([]byte(token))]
}

// Authenticate returns the principal of an Authorization header value:
// "Bearer <token>", or "Basic" with the token as the password (any user
// name), which `docker login` and `oras login` send. An empty value is
// anonymous: nil and no error. It fails with ErrUnauthenticated for any
// other value, or a token no entry matches.
func (t *Tokens) Authenticate(authorization string) (*Principal, error) {
	if authorization == "" {
		return nil, nil
	}
	scheme, cred, _ := strings.Cut(strings.TrimSpace(authorization), " ")
	cred = strings.TrimSpace(cred)
	var token string
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		token = cred
	case strings.EqualFold(scheme, "Basic"):
		raw, err := base64.StdEncoding.DecodeString(cred)
		if err != nil {
			return nil, ErrUnauthenticated
		}
		_, token, _ = strings.Cut(string(raw), ":")
	}
	if p := t.Lookup(token); p != nil {
		return p, nil
	}
	return nil, ErrUnauthenticated
}

// AddToken returns the text of token file data with e appended to its
// tokens, keeping what else the file holds, comments included; empty data
// is a new file. It fails with ErrInvalidTokenFile when data is not a
// valid token file, or e is not a valid entry or has the name or hash of
// one the file holds.
func AddToken(data []byte, e Entry) ([]byte, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		data = fmt.Appendf(nil, "version: %d\ntokens: []\n", FormatVersion)
	}
	if _, err := parseEntries(data); err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", err.Error(), ErrInvalidTokenFile)
	}
	root := doc.Content[0]
	var list *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "tokens" {
			list = root.Content[i+1]
		}
	}
	list.Style &^= yaml.FlowStyle // a list grown by hand reads best in block style
	list.Content = append(list.Content, entryNode(e))
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("encode token file: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode token file: %w", err)
	}
	if _, err := parseEntries(out.Bytes()); err != nil {
		return nil, fmt.Errorf("new entry %s: %w", e.Name, err)
	}
	return out.Bytes(), nil
}

// entryNode is e as a YAML mapping, its scopes in flow style.
func entryNode(e Entry) *yaml.Node {
	str := func(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }
	scopes := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
	for _, s := range e.Scopes {
		scopes.Content = append(scopes.Content, str(s))
	}
	return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{
		str("name"), str(e.Name), str("sha256"), str(e.SHA256), str("scopes"), scopes,
	}}
}
