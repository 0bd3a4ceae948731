package auth

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxTokenFileSize bounds a token file: room for thousands of tokens.
const MaxTokenFileSize = 1 << 20

// FormatVersion is the version of the token file format this package
// reads and writes.
const FormatVersion = 1

// ErrInvalidTokenFile is the error of a token file ParseTokens refuses;
// the message names the line, entry and field.
var ErrInvalidTokenFile = errors.New("invalid token file")

// namePattern is what a token's name may be: it is logged, so no spaces
// or control characters.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// Entry is one token of a token file: who it is and what it may do.
type Entry struct {
	// Name identifies the token in logs.
	Name string
	// SHA256 is the hex SHA-256 of the token (Hash).
	SHA256 string
	// Scopes are what the token may do: read, publish:<namespace>,
	// publish:*, admin.
	Scopes []string
}

// Tokens is a parsed token file: the principals it knows, by token hash.
// It is read-only once parsed, so safe for concurrent use.
type Tokens struct {
	byHash map[[32]byte]*Principal
}

// Len is the number of tokens.
func (t *Tokens) Len() int { return len(t.byHash) }

// ParseTokens reads a token file (see doc.go). It fails with an error
// wrapping ErrInvalidTokenFile, naming the line, entry and field, for
// anything but a well-formed file of the current version.
func ParseTokens(data []byte) (*Tokens, error) {
	entries, err := parseEntries(data)
	if err != nil {
		return nil, err
	}
	t := &Tokens{byHash: make(map[[32]byte]*Principal, len(entries))}
	for _, e := range entries {
		var key [32]byte
		copy(key[:], mustHex(e.SHA256))
		t.byHash[key] = &Principal{Name: e.Name, Scopes: e.Scopes}
	}
	return t, nil
}

// parseEntries reads and checks every entry of a token file.
func parseEntries(data []byte) ([]Entry, error) {
	root, err := parseDocument(data)
	if err != nil {
		return nil, err
	}
	var (
		version, tokens *yaml.Node
		seen            = map[string]bool{}
	)
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if seen[k.Value] {
			return nil, invalid(k, "%s: duplicate field", k.Value)
		}
		seen[k.Value] = true
		switch k.Value {
		case "version":
			version = v
		case "tokens":
			tokens = v
		default:
			return nil, invalid(k, "%s: unknown field; want version and tokens", strconv.Quote(k.Value))
		}
	}
	if err := checkVersion(root, version); err != nil {
		return nil, err
	}
	if tokens == nil {
		return nil, invalid(root, "tokens: missing; want a list, [] for none")
	}
	return parseTokenList(tokens)
}

// parseDocument parses data into the mapping at its root, refusing what
// the format never needs: anchors, aliases, tags, more than one document.
func parseDocument(data []byte) (*yaml.Node, error) {
	if len(data) > MaxTokenFileSize {
		return nil, fmt.Errorf("%d bytes, more than %d: %w", len(data), MaxTokenFileSize, ErrInvalidTokenFile)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("empty; want version: %d and tokens: %w", FormatVersion, ErrInvalidTokenFile)
	} else if err != nil {
		return nil, fmt.Errorf("%s: %w", strings.TrimPrefix(err.Error(), "yaml: "), ErrInvalidTokenFile)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, invalid(&extra, "a second document; want one")
	} else if !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", strings.TrimPrefix(err.Error(), "yaml: "), ErrInvalidTokenFile)
	}
	if err := plain(&doc); err != nil {
		return nil, err
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, invalid(&doc, "want a mapping with version and tokens")
	}
	return doc.Content[0], nil
}

// plain refuses anchors, aliases and explicit tags anywhere under n.
func plain(n *yaml.Node) error {
	switch {
	case n.Kind == yaml.AliasNode:
		return invalid(n, "alias *%s: aliases are not allowed", n.Value)
	case n.Anchor != "":
		return invalid(n, "anchor &%s: anchors are not allowed", n.Anchor)
	case n.Style&yaml.TaggedStyle != 0:
		return invalid(n, "tag %s: tags are not allowed", n.Tag)
	}
	for _, c := range n.Content {
		if err := plain(c); err != nil {
			return err
		}
	}
	return nil
}

// checkVersion requires version: 1.
func checkVersion(root, version *yaml.Node) error {
	switch {
	case version == nil:
		return invalid(root, "version: missing; want version: %d", FormatVersion)
	case version.Kind != yaml.ScalarNode || version.Tag != "!!int":
		return invalid(version, "version: want the number %d", FormatVersion)
	case version.Value != strconv.Itoa(FormatVersion):
		return invalid(version, "version: %s is not %d, the version this capd reads", strconv.Quote(version.Value), FormatVersion)
	}
	return nil
}

// parseTokenList reads the tokens sequence, refusing duplicate names and
// hashes.
func parseTokenList(n *yaml.Node) ([]Entry, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, invalid(n, "tokens: want a list of {name, sha256, scopes}")
	}
	names, hashes := map[string]int{}, map[string]int{}
	entries := make([]Entry, 0, len(n.Content))
	for i, item := range n.Content {
		e, err := parseEntry(i, item)
		if err != nil {
			return nil, err
		}
		if j, ok := names[e.Name]; ok {
			return nil, invalid(item, "tokens[%d].name: %q is the name of tokens[%d] too", i, e.Name, j)
		}
		if j, ok := hashes[e.SHA256]; ok {
			return nil, invalid(item, "tokens[%d] (%s).sha256: the hash of tokens[%d] too", i, e.Name, j)
		}
		names[e.Name], hashes[e.SHA256] = i, i
		entries = append(entries, e)
	}
	return entries, nil
}

// parseEntry reads tokens[i].
func parseEntry(i int, n *yaml.Node) (Entry, error) {
	if n.Kind != yaml.MappingNode {
		return Entry{}, invalid(n, "tokens[%d]: want a mapping with name, sha256 and scopes", i)
	}
	var e Entry
	seen := map[string]bool{}
	for j := 0; j+1 < len(n.Content); j += 2 {
		k, v := n.Content[j], n.Content[j+1]
		where := fmt.Sprintf("tokens[%d].%s", i, k.Value)
		if seen[k.Value] {
			return Entry{}, invalid(k, "%s: duplicate field", where)
		}
		seen[k.Value] = true
		var err error
		switch k.Value {
		case "name":
			e.Name, err = nameField(where, v)
		case "sha256":
			e.SHA256, err = hashField(where, v)
		case "scopes":
			e.Scopes, err = scopesField(where, v)
		default:
			err = invalid(k, "tokens[%d]: %s: unknown field; want name, sha256 and scopes", i, strconv.Quote(k.Value))
		}
		if err != nil {
			return Entry{}, err
		}
	}
	for _, f := range []string{"name", "sha256", "scopes"} {
		if !seen[f] {
			return Entry{}, invalid(n, "tokens[%d].%s: missing", i, f)
		}
	}
	return e, nil
}

// str reads a plain string scalar.
func str(where string, n *yaml.Node) (string, error) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		return "", invalid(n, "%s: want a string", where)
	}
	return n.Value, nil
}

func nameField(where string, n *yaml.Node) (string, error) {
	s, err := str(where, n)
	if err == nil && !namePattern.MatchString(s) {
		err = invalid(n, "%s: %s: want 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit", where, strconv.QuoteToASCII(clip(s)))
	}
	return s, err
}

func hashField(where string, n *yaml.Node) (string, error) {
	s, err := str(where, n)
	switch {
	case err != nil || isHash(s):
	case strings.HasPrefix(s, TokenPrefix):
		// A token pasted in place of its hash: never repeat it, errors
		// are logged.
		err = invalid(n, "%s: a token, not its hash; want the SHA-256 of the token, and this token is no longer secret", where)
	default:
		err = invalid(n, "%s: %s is not 64 lower-case hex digits (the SHA-256 of the token)", where, strconv.QuoteToASCII(clip(s)))
	}
	return s, err
}

func scopesField(where string, n *yaml.Node) ([]string, error) {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		return nil, invalid(n, "%s: want a list of at least one scope (read, publish:<namespace>, publish:*, admin)", where)
	}
	scopes := make([]string, 0, len(n.Content))
	for i, c := range n.Content {
		w := fmt.Sprintf("%s[%d]", where, i)
		s, err := str(w, c)
		if err != nil {
			return nil, err
		}
		if err := ValidateScope(s); err != nil {
			return nil, invalid(c, "%s: %v", w, err)
		}
		for j, prev := range scopes {
			if prev == s {
				return nil, invalid(c, "%s: %q repeats %s[%d]", w, s, where, j)
			}
		}
		scopes = append(scopes, s)
	}
	return scopes, nil
}

// invalid is an ErrInvalidTokenFile naming the line of n.
func invalid(n *yaml.Node, format string, args ...any) error {
	return fmt.Errorf("line %d: %s: %w", n.Line, fmt.Sprintf(format, args...), ErrInvalidTokenFile)
}

// clip shortens what a file holds before it is quoted in an error.
func clip(s string) string {
	const most = 80
	if len(s) > most {
		return s[:most] + "…"
	}
	return s
}
