package signature

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// ErrNoPolicy is wrapped when no rule of a policy matches a capability name:
// such a capability cannot be verified, so it must not be installed.
var ErrNoPolicy = errors.New("no trust policy")

// ErrInvalidPolicy is wrapped by every ParsePolicy and LoadPolicy failure: a
// policy file that cannot be read, is not valid YAML, breaks a rule of the
// format, or names a certificate file that cannot be used.
var ErrInvalidPolicy = errors.New("invalid trust policy")

// Bounds on a trust policy. A policy is a short hand-written file; these
// keep a hostile or mistaken one (a certificate path naming /dev/zero, a
// generated file of a million rules) cheap to refuse.
const (
	maxPolicySize   = 1 << 20
	maxRules        = 256
	maxPatterns     = 64
	maxCertFiles    = 64
	maxCertFileSize = 1 << 20
	maxPatternLen   = 512
	maxPathLen      = 4096
	// maxProblems bounds how many problems one error lists.
	maxProblems = 20
)

// matchAll is the pattern that matches every capability name.
const matchAll = "**"

// Policy is a parsed trust policy: rules saying which certificate
// authorities a capability's signatures must chain to. A nil or empty
// Policy matches no name.
type Policy struct {
	// File is the path the policy was read from, used in messages.
	File  string
	Rules []Rule
}

// Rule is one rule of a Policy.
type Rule struct {
	// Name labels the rule in messages; it is unique within its policy.
	Name string
	// Match holds path.Match patterns over "[namespace/]name", or "**",
	// which matches every name.
	Match []string
	// Registry and Authors are the trusted CA certificates, parsed.
	// Registry is never empty in a parsed policy.
	Registry []*x509.Certificate
	Authors  []*x509.Certificate
	// RequireAuthor says a version needs a signature chaining to Authors
	// besides the registry's. A parsed policy sets it only with Authors.
	RequireAuthor bool
}

// matches reports whether one of r's patterns matches name. A malformed
// pattern, which ParsePolicy never accepts, matches nothing.
func (r *Rule) matches(name string) bool {
	for _, pat := range r.Match {
		if pat == matchAll {
			return true
		}
		if ok, err := path.Match(pat, name); ok && err == nil {
			return true
		}
	}
	return false
}

// For returns the first rule of p matching name, like a firewall. It fails
// with an error wrapping ErrNoPolicy, naming the capability and the policy
// file, when no rule matches.
func (p *Policy) For(name string) (*Rule, error) {
	if p == nil {
		return nil, fmt.Errorf("%s: %w: no trust policy is loaded", name, ErrNoPolicy)
	}
	for i := range p.Rules {
		if p.Rules[i].matches(name) {
			return &p.Rules[i], nil
		}
	}
	where := "the trust policy"
	if p.File != "" {
		where = p.File
	}
	return nil, fmt.Errorf("%s: %w: no rule in %s matches it", name, ErrNoPolicy, where)
}

// DefaultPolicyPath returns where capctl looks for its trust policy:
// capcenter/trust.yaml under os.UserConfigDir ($XDG_CONFIG_HOME, or
// ~/.config, on Linux). It fails when neither $XDG_CONFIG_HOME nor $HOME is
// set.
func DefaultPolicyPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("trust policy path: %w", err)
	}
	return filepath.Join(dir, "capcenter", "trust.yaml"), nil
}

// LoadPolicy reads and parses the policy file at file, resolving relative
// certificate paths against its folder. Every error wraps ErrInvalidPolicy;
// one for a missing file also wraps fs.ErrNotExist. It reads only regular
// files, and at most 1 MiB of each.
func LoadPolicy(file string) (*Policy, error) {
	data, err := readBounded(file, maxPolicySize)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidPolicy, err)
	}
	return ParsePolicy(data, file, func(name string) ([]byte, error) {
		return readBounded(name, maxCertFileSize)
	})
}

// readBounded reads the regular file name, or maxSize+1 bytes of it when it is
// larger, so that the caller can say it is too large.
func readBounded(name string, maxSize int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", name)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return data, nil
}

// ParsePolicy parses a policy file's bytes. file is its path, used in
// messages and to resolve relative certificate paths; readFile reads a
// certificate file (a bounded os.ReadFile in production, a map in tests
// and fuzzing). Each certificate file is read once however many rules name
// it.
//
// It fails with an error wrapping ErrInvalidPolicy that lists up to 20
// problems, each as "file:line:col: field: what is wrong", where field is
// a path such as rules[1].match[0]: data larger than 1 MiB, not one YAML
// document, an unknown or repeated field, a value of the wrong type, a
// version other than 1, no rules or more than 256, a rule without a name
// or with another rule's name, without patterns or with more than 64, a
// malformed pattern, no registryCertificates, more than 64 certificate
// files, a certificate file that cannot be read, is larger than 1 MiB,
// does not parse (see ParseCertificates) or holds a certificate that is
// not a CA, and requireAuthorSignature without authorCertificates.
func ParsePolicy(data []byte, file string, readFile func(string) ([]byte, error)) (*Policy, error) {
	p := &policyParser{file: file, readFile: readFile, certs: map[string]certFile{}}
	if len(data) > maxPolicySize {
		p.add(nil, "", "%d bytes, more than the %d a trust policy may hold", len(data), maxPolicySize)
		return nil, p.err()
	}
	pol := p.policy(p.document(data))
	if err := p.err(); err != nil {
		return nil, err
	}
	return pol, nil
}

// policyError lists the problems of a policy file; it wraps
// ErrInvalidPolicy.
type policyError struct {
	file     string
	problems []string
	more     int
}

func (e *policyError) Error() string {
	if len(e.problems) == 1 {
		return e.problems[0]
	}
	s := fmt.Sprintf("%s: %d problems:\n  %s", e.file, len(e.problems)+e.more, strings.Join(e.problems, "\n  "))
	if e.more > 0 {
		s += fmt.Sprintf("\n  and %d more", e.more)
	}
	return s
}

func (e *policyError) Unwrap() error { return ErrInvalidPolicy }

// certFile is the outcome of reading and parsing one certificate file.
type certFile struct {
	certs []*x509.Certificate
	err   error
}

// policyParser walks a policy's YAML nodes, collecting problems.
type policyParser struct {
	file     string
	readFile func(string) ([]byte, error)
	certs    map[string]certFile
	problems []string
	more     int
}

// add records a problem at n (nil when it has no position) in field.
func (p *policyParser) add(n *yaml.Node, field, format string, args ...any) {
	if len(p.problems) == maxProblems {
		p.more++
		return
	}
	var b strings.Builder
	b.WriteString(p.file)
	if n != nil && n.Line > 0 {
		fmt.Fprintf(&b, ":%d", n.Line)
		if n.Column > 0 {
			fmt.Fprintf(&b, ":%d", n.Column)
		}
	}
	b.WriteString(": ")
	if field != "" {
		b.WriteString(field + ": ")
	}
	fmt.Fprintf(&b, format, args...)
	p.problems = append(p.problems, b.String())
}

func (p *policyParser) err() error {
	if len(p.problems) == 0 {
		return nil
	}
	return &policyError{file: p.file, problems: p.problems, more: p.more}
}

// document parses data as exactly one YAML document and returns its root
// node, or nil after recording why it cannot.
func (p *policyParser) document(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.add(nil, "", "empty file: want version: 1 and rules")
		} else {
			p.syntax(err)
		}
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		p.add(&extra, "", "more than one YAML document: a trust policy is one")
		return nil
	case !errors.Is(err, io.EOF):
		p.syntax(err)
		return nil
	}
	if len(doc.Content) != 1 || isNull(doc.Content[0]) {
		p.add(nil, "", "empty file: want version: 1 and rules")
		return nil
	}
	return doc.Content[0]
}

// syntax records a YAML syntax error, at its line when it names one.
func (p *policyParser) syntax(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, after, ok := strings.Cut(rest, ": "); ok {
			if line, err := strconv.Atoi(num); err == nil {
				p.add(&yaml.Node{Line: line}, "", "invalid YAML: %s", after)
				return
			}
		}
	}
	p.add(nil, "", "invalid YAML: %s", msg)
}

func (p *policyParser) policy(root *yaml.Node) *Policy {
	if root == nil {
		return nil
	}
	fields := p.mapping(root, "", "version", "rules")
	if fields == nil {
		return nil
	}
	p.version(root, fields["version"])
	rules, ok := p.list(fields["rules"], "rules", "rules", maxRules)
	if ok && len(rules) == 0 {
		p.add(orNode(fields["rules"], root), "rules", "required: at least one rule")
	}
	if len(rules) == 0 {
		return nil
	}
	pol := &Policy{File: p.file, Rules: make([]Rule, len(rules))}
	names := map[string]int{}
	for i, n := range rules {
		p.rule(n, i, &pol.Rules[i], names)
	}
	return pol
}

func (p *policyParser) version(root, n *yaml.Node) {
	var v int
	switch n = deref(n); {
	case isNull(n):
		p.add(orNode(n, root), "version", "required: this capctl reads version 1")
	case n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&v) != nil:
		p.add(n, "version", "want the number 1, not %s", describe(n))
	case v != 1:
		p.add(n, "version", "unsupported version %d: this capctl reads version 1", v)
	}
}

func (p *policyParser) rule(n *yaml.Node, i int, r *Rule, names map[string]int) {
	at := fmt.Sprintf("rules[%d]", i)
	fields := p.mapping(n, at, "name", "match", "registryCertificates", "authorCertificates", "requireAuthorSignature")
	if fields == nil {
		return
	}
	r.Name = p.ruleName(n, fields["name"], at+".name", i, names)
	r.Match = p.patterns(n, fields["match"], at+".match")
	r.Registry, _ = p.certificates(n, fields["registryCertificates"], at+".registryCertificates", true)
	var authorFiles int
	r.Authors, authorFiles = p.certificates(n, fields["authorCertificates"], at+".authorCertificates", false)
	if req := deref(fields["requireAuthorSignature"]); !isNull(req) {
		if req.Kind != yaml.ScalarNode || req.ShortTag() != "!!bool" || req.Decode(&r.RequireAuthor) != nil {
			p.add(req, at+".requireAuthorSignature", "want true or false, not %s", describe(req))
		} else if r.RequireAuthor && authorFiles == 0 {
			p.add(req, at+".requireAuthorSignature", "true needs authorCertificates: the CAs author signatures must chain to")
		}
	}
}

// ruleName reads the name n of the rule at rule, the i-th; names maps the
// names seen so far to their rule's index.
func (p *policyParser) ruleName(rule, n *yaml.Node, at string, i int, names map[string]int) string {
	if isNull(n) {
		p.add(orNode(n, rule), at, "required: a label for messages")
		return ""
	}
	name, ok := p.str(n, at)
	if !ok {
		return ""
	}
	switch j, dup := names[name]; {
	case strings.TrimSpace(name) == "":
		p.add(n, at, "required: a label for messages, not blank")
	case len(name) > 128 || strings.ContainsFunc(name, unicode.IsControl):
		p.add(n, at, "%s is not a label: at most 128 bytes, no control characters", quote(name))
	case dup:
		p.add(n, at, "%s is also the name of rules[%d]", quote(name), j)
	default:
		names[name] = i
	}
	return name
}

// patterns reads the match list n of the rule at rule.
func (p *policyParser) patterns(rule, n *yaml.Node, at string) []string {
	items, ok := p.list(n, at, "patterns", maxPatterns)
	if ok && len(items) == 0 {
		p.add(orNode(n, rule), at, `required: at least one pattern, such as "acme/*" or "**"`)
	}
	var pats []string
	for i, item := range items {
		field := fmt.Sprintf("%s[%d]", at, i)
		pat, ok := p.str(item, field)
		if !ok {
			continue
		}
		if why := checkPattern(pat); why != "" {
			p.add(item, field, "pattern %s %s", quote(pat), why)
			continue
		}
		pats = append(pats, pat)
	}
	return pats
}

// checkPattern says what is wrong with a match pattern, or "".
func checkPattern(pat string) string {
	switch {
	case pat == matchAll:
		return ""
	case pat == "":
		return "is empty"
	case len(pat) > maxPatternLen:
		return fmt.Sprintf("is longer than %d bytes", maxPatternLen)
	case strings.Count(pat, "/") > 1:
		return `has more than one '/': names are "[namespace/]name"`
	case strings.Contains(pat, "**"):
		return `uses "**", which is only a whole pattern (matching every name); '*' never crosses '/'`
	}
	if _, err := path.Match(pat, ""); err != nil {
		return "is malformed: " + err.Error()
	}
	return ""
}

// certificates reads the certificate files listed at n, of the rule at
// rule, and returns their certificates and how many files n lists.
func (p *policyParser) certificates(rule, n *yaml.Node, at string, required bool) ([]*x509.Certificate, int) {
	items, ok := p.list(n, at, "certificate files", maxCertFiles)
	if ok && len(items) == 0 && required {
		p.add(orNode(n, rule), at, "required: at least one PEM file of CA certificates the registry's signatures must chain to")
	}
	var certs []*x509.Certificate
	for i, item := range items {
		field := fmt.Sprintf("%s[%d]", at, i)
		name, ok := p.str(item, field)
		if !ok {
			continue
		}
		if name == "" || len(name) > maxPathLen {
			p.add(item, field, "want a path of 1 to %d bytes", maxPathLen)
			continue
		}
		resolved := filepath.Clean(name)
		if !filepath.IsAbs(resolved) {
			resolved = filepath.Join(filepath.Dir(p.file), resolved)
		}
		cf, seen := p.certs[resolved]
		if !seen {
			cf = p.load(resolved)
			p.certs[resolved] = cf
		}
		if cf.err != nil {
			p.add(item, field, "%s: %v", quotePath(resolved), cf.err)
			continue
		}
		certs = append(certs, cf.certs...)
	}
	return certs, len(items)
}

// load reads and parses the certificate file name, and checks each of its
// certificates is a CA's.
func (p *policyParser) load(name string) certFile {
	data, err := p.readFile(name)
	if err != nil {
		return certFile{err: err}
	}
	if len(data) > maxCertFileSize {
		return certFile{err: fmt.Errorf("larger than the %d bytes a certificate file may hold", maxCertFileSize)}
	}
	certs, err := ParseCertificates(data)
	if err != nil {
		return certFile{err: err}
	}
	for i, c := range certs {
		if !c.BasicConstraintsValid || !c.IsCA {
			return certFile{err: fmt.Errorf("certificate %d (%s) is not a CA certificate: it lacks the basic constraint CA:TRUE, so nothing can chain to it", i+1, quote(c.Subject.String()))}
		}
		if c.KeyUsage != 0 && c.KeyUsage&x509.KeyUsageCertSign == 0 {
			return certFile{err: fmt.Errorf("certificate %d (%s) is not a CA certificate: its key usage lacks certSign", i+1, quote(c.Subject.String()))}
		}
	}
	return certFile{certs: certs}
}

// mapping checks n is a mapping of known fields, each at most once, and
// returns its values by key; nil after recording why n is not.
func (p *policyParser) mapping(n *yaml.Node, at string, known ...string) map[string]*yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		p.add(n, at, "want a mapping of %s, not %s", strings.Join(known, ", "), describe(n))
		return nil
	}
	fields := map[string]*yaml.Node{} // the keys
	values := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, key := n.Content[i], keyOf(deref(n.Content[i]))
		field := joinField(at, key)
		switch prev, dup := fields[key]; {
		case !slices.Contains(known, key):
			p.add(k, field, "unknown field: want %s", strings.Join(known, ", "))
		case dup:
			p.add(k, field, "repeated: first set at line %d", prev.Line)
		default:
			fields[key] = k
			values[key] = n.Content[i+1]
		}
	}
	return values
}

// list returns the items of the list n, and whether n is one of at most
// maxItems, or null, or missing; it records why when not.
func (p *policyParser) list(n *yaml.Node, at, what string, maxItems int) ([]*yaml.Node, bool) {
	n = deref(n)
	switch {
	case isNull(n):
		return nil, true
	case n.Kind != yaml.SequenceNode:
		p.add(n, at, "want a list of %s, not %s", what, describe(n))
		return nil, false
	case len(n.Content) > maxItems:
		p.add(n, at, "%d %s, more than the %d allowed", len(n.Content), what, maxItems)
		return nil, false
	}
	return n.Content, true
}

// str returns the string at n, or false after recording why n is not one.
func (p *policyParser) str(n *yaml.Node, at string) (string, bool) {
	n = deref(n)
	if n == nil {
		return "", false
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		p.add(n, at, "want a string, not %s", describe(n))
		return "", false
	}
	return n.Value, true
}

// deref follows aliases to the node they name. Aliases are resolved node by
// node as the walk needs them, so anchors cannot multiply the work beyond
// the bounds on rules, patterns and files.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 8; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = deref(n)
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func orNode(n, fallback *yaml.Node) *yaml.Node {
	if n != nil {
		return n
	}
	return fallback
}

// describe names what n is, for "want X, not Y" messages.
func describe(n *yaml.Node) string {
	switch {
	case n == nil || isNull(n):
		return "null"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str":
		return "the string " + quote(n.Value)
	case n.Kind == yaml.ScalarNode:
		return fmt.Sprintf("%s (%s)", quote(n.Value), strings.TrimPrefix(n.ShortTag(), "!!"))
	}
	return "an alias"
}

func joinField(at, key string) string {
	if at == "" {
		return quoteKey(key)
	}
	return at + "." + quoteKey(key)
}

// quoteKey quotes a key that would not read as a plain field name.
func quoteKey(key string) string {
	for _, r := range key {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' && r != '-' {
			return quote(key)
		}
	}
	if key == "" {
		return `""`
	}
	return key
}

// quote quotes s for a message, cut to 64 bytes so that a hostile value
// cannot flood it.
func quote(s string) string {
	if len(s) > 64 {
		return strconv.Quote(strings.ToValidUTF8(s[:64], "")) + "…"
	}
	return strconv.Quote(s)
}

// quotePath quotes a file path for a message, keeping its last 256 bytes,
// the most telling ones.
func quotePath(s string) string {
	if len(s) > 256 {
		return "…" + strconv.Quote(strings.ToValidUTF8(s[len(s)-256:], ""))
	}
	return strconv.Quote(s)
}

// keyOf returns the text of a mapping key, "" for a key that is not text.
func keyOf(k *yaml.Node) string {
	if k == nil || k.Kind != yaml.ScalarNode {
		return ""
	}
	return k.Value
}

// ParseCertificates parses every CERTIFICATE block of PEM data; text
// before a block (such as the comments of a CA bundle) is skipped. It fails,
// naming the 1-based block number, for a block that is not a CERTIFICATE,
// does not parse as X.509, or is malformed (no END line, bad base64); and
// it fails for data with no certificate and for anything but whitespace
// after the last block.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	for n := 1; ; n++ {
		block, after := pem.Decode(rest)
		if block == nil {
			break
		}
		// pem.Decode skips a malformed block to the next BEGIN line: find
		// one among the bytes it consumed besides the block's own.
		if bytes.Count(rest[:len(rest)-len(after)], []byte("-----BEGIN")) > 1 {
			return nil, fmt.Errorf("PEM block %d is malformed: no matching END line, or bad base64", n)
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %d is a %s, not a CERTIFICATE", n, quote(block.Type))
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", n, err)
		}
		certs = append(certs, c)
		rest = after
	}
	switch {
	case bytes.Contains(rest, []byte("-----BEGIN")):
		return nil, fmt.Errorf("PEM block %d is malformed: no matching END line, or bad base64", len(certs)+1)
	case len(bytes.TrimSpace(rest)) > 0 && len(certs) == 0:
		return nil, errors.New("no PEM block: want CERTIFICATE blocks (for a DER file, convert it with openssl x509 -inform der)")
	case len(bytes.TrimSpace(rest)) > 0:
		return nil, fmt.Errorf("text that is not PEM after PEM block %d", len(certs))
	case len(certs) == 0:
		return nil, errors.New("no CERTIFICATE PEM block: the data is empty")
	}
	return certs, nil
}
