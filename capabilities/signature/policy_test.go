package signature

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testCertPEM returns a PEM self-signed ECDSA P-256 certificate for cn: a
// CA that may sign certificates, unless edit changes the template.
func testCertPEM(t testing.TB, cn string, edit func(*x509.Certificate)) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	if edit != nil {
		edit(tmpl)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// certFiles serves certificate files from memory and counts reads.
type certFiles struct {
	mu    sync.Mutex
	files map[string][]byte
	reads map[string]int
}

func (c *certFiles) readFile(name string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reads == nil {
		c.reads = map[string]int{}
	}
	c.reads[name]++
	data, ok := c.files[name]
	if !ok {
		return nil, fmt.Errorf("open %s: %w", name, fs.ErrNotExist)
	}
	return data, nil
}

// policyFixture holds the certificate files the policy tests name, keyed
// by their path relative to a policy file "trust.yaml".
type policyFixture struct {
	registryCA, authorsCA []byte
	files                 map[string][]byte
}

func newPolicyFixture(t *testing.T) *policyFixture {
	t.Helper()
	reg := testCertPEM(t, "registry CA", nil)
	auth := testCertPEM(t, "authors CA", nil)
	leaf := testCertPEM(t, "leaf", func(c *x509.Certificate) {
		c.IsCA = false
		c.KeyUsage = x509.KeyUsageDigitalSignature
	})
	noConstraints := testCertPEM(t, "no constraints", func(c *x509.Certificate) {
		c.BasicConstraintsValid = false
		c.IsCA = false
	})
	noCertSign := testCertPEM(t, "no certSign", func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageDigitalSignature })
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{1, 2, 3}})
	return &policyFixture{
		registryCA: reg,
		authorsCA:  auth,
		files: map[string][]byte{
			"certs/registry.pem":      reg,
			"certs/authors.pem":       auth,
			"certs/bundle.pem":        append(append([]byte("# Issuer: registry CA\n"), reg...), append([]byte("\n# Issuer: authors CA\n"), auth...)...),
			"/etc/capcenter/ca.pem":   reg,
			"conf/certs/registry.pem": reg,
			"certs/leaf.pem":          leaf,
			"certs/noconstraints.pem": noConstraints,
			"certs/nocertsign.pem":    noCertSign,
			"certs/ca-then-leaf.pem":  append(append([]byte{}, reg...), leaf...),
			"certs/key.pem":           keyPEM,
			"certs/empty.pem":         nil,
			"certs/der.pem":           mustDER(t, reg),
			"certs/garbage.pem":       append(append([]byte{}, reg...), "trailing garbage\n"...),
			"certs/huge.pem":          append(append([]byte{}, reg...), make([]byte, maxCertFileSize)...),
		},
	}
}

func mustDER(t *testing.T, p []byte) []byte {
	t.Helper()
	b, _ := pem.Decode(p)
	if b == nil {
		t.Fatal("bad test PEM")
	}
	return b.Bytes
}

func (f *policyFixture) parse(t *testing.T, file, yml string) (*Policy, *certFiles, error) {
	t.Helper()
	cf := &certFiles{files: f.files}
	pol, err := ParsePolicy([]byte(yml), file, cf.readFile)
	return pol, cf, err
}

func TestParsePolicy(t *testing.T) {
	t.Parallel()
	f := newPolicyFixture(t)
	type ruleWant struct {
		name          string
		match         []string
		registry      int
		authors       int
		requireAuthor bool
	}
	tests := []struct {
		name  string
		file  string
		yaml  string
		want  []ruleWant
		reads map[string]int
	}{{
		name: "one rule for everything",
		yaml: "version: 1\nrules:\n  - name: all\n    match: [\"**\"]\n    registryCertificates: [certs/registry.pem]\n",
		want: []ruleWant{{name: "all", match: []string{"**"}, registry: 1}},
	}, {
		name: "authors required, then everything else",
		yaml: `
version: 1
rules:
  - name: acme
    match: ["acme/*", "acme-*"]
    registryCertificates: [certs/registry.pem]
    authorCertificates: [certs/authors.pem]
    requireAuthorSignature: true
  - name: rest
    match: ["**"]
    registryCertificates: [certs/registry.pem]
    authorCertificates: [certs/authors.pem]
    requireAuthorSignature: false
`,
		want: []ruleWant{
			{name: "acme", match: []string{"acme/*", "acme-*"}, registry: 1, authors: 1, requireAuthor: true},
			{name: "rest", match: []string{"**"}, registry: 1, authors: 1},
		},
		reads: map[string]int{"certs/registry.pem": 1, "certs/authors.pem": 1},
	}, {
		name: "a bundle of two certificates with comments",
		yaml: "version: 1\nrules: [{name: b, match: ['*'], registryCertificates: [certs/bundle.pem]}]\n",
		want: []ruleWant{{name: "b", match: []string{"*"}, registry: 2}},
	}, {
		name: "several files, an absolute path, a path with ./",
		yaml: "version: 1\nrules: [{name: b, match: ['*'], registryCertificates: [/etc/capcenter/ca.pem, ./certs/authors.pem, certs/bundle.pem]}]\n",
		want: []ruleWant{{name: "b", match: []string{"*"}, registry: 4}},
	}, {
		name: "relative to the policy file's folder",
		file: "conf/trust.yaml",
		yaml: "version: 1\nrules: [{name: c, match: ['*/*'], registryCertificates: [certs/registry.pem]}]\n",
		want: []ruleWant{{name: "c", match: []string{"*/*"}, registry: 1}},
	}, {
		name: "anchors share a list, null authors",
		yaml: `
version: 1
rules:
  - name: a
    match: [a]
    registryCertificates: &reg [certs/registry.pem]
    authorCertificates:
  - name: b
    match: ["b/[a-c]?", 'b/\*']
    registryCertificates: *reg
`,
		want: []ruleWant{
			{name: "a", match: []string{"a"}, registry: 1},
			{name: "b", match: []string{"b/[a-c]?", `b/\*`}, registry: 1},
		},
		reads: map[string]int{"certs/registry.pem": 1},
	}, {
		name: "unicode rule name, comments, document marker",
		yaml: "# trust\n---\nversion: 1 # the only one\nrules:\n  - name: \"équipe ✓\"\n    match: [x]\n    registryCertificates: [certs/registry.pem]\n",
		want: []ruleWant{{name: "équipe ✓", match: []string{"x"}, registry: 1}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			file := tt.file
			if file == "" {
				file = "trust.yaml"
			}
			pol, cf, err := f.parse(t, file, tt.yaml)
			if err != nil {
				t.Fatalf("ParsePolicy: %v", err)
			}
			if pol.File != file || len(pol.Rules) != len(tt.want) {
				t.Fatalf("ParsePolicy = file %q, %d rules; want %q, %d", pol.File, len(pol.Rules), file, len(tt.want))
			}
			for i, w := range tt.want {
				r := pol.Rules[i]
				got := ruleWant{name: r.Name, match: r.Match, registry: len(r.Registry), authors: len(r.Authors), requireAuthor: r.RequireAuthor}
				if fmt.Sprint(got) != fmt.Sprint(w) {
					t.Errorf("rules[%d] = %+v; want %+v", i, got, w)
				}
			}
			for name, n := range tt.reads {
				if cf.reads[name] != n {
					t.Errorf("%s read %d times; want %d", name, cf.reads[name], n)
				}
			}
		})
	}
}

func TestParsePolicyRejects(t *testing.T) {
	t.Parallel()
	f := newPolicyFixture(t)
	// rule returns a policy of one rule whose fields are body.
	rule := func(body string) string {
		return "version: 1\nrules:\n  - " + strings.ReplaceAll(strings.TrimSpace(body), "\n", "\n    ") + "\n"
	}
	ok := "name: r\nmatch: [\"**\"]\nregistryCertificates: [certs/registry.pem]\n"
	manyRules := "version: 1\nrules:\n" + strings.Repeat("  - {name: x, match: [x], registryCertificates: [certs/registry.pem]}\n", maxRules+1)
	tests := []struct {
		name, yaml, want string
	}{
		{"empty file", "", "trust.yaml: empty file"},
		{"only comments", "# nothing\n", "trust.yaml: empty file"},
		{"null document", "---\n", "trust.yaml: empty file"},
		{"two documents", "version: 1\n---\nversion: 1\n", "more than one YAML document"},
		{"syntax error", "version: 1\nrules: [\n", "invalid YAML"},
		{"tab indentation", "version: 1\nrules:\n\t- name: x\n", "trust.yaml:3: invalid YAML: found character that cannot start any token"},
		{"duplicate key", "version: 1\nversion: 1\nrules: []\n", "trust.yaml:2:1: version: repeated: first set at line 1"},
		{"not a mapping", "- version: 1\n", "trust.yaml:1:1: want a mapping of version, rules, not a list"},
		{"unknown top field", "version: 1\nrule: []\n", `trust.yaml:2:1: rule: unknown field: want version, rules`},
		{"merge key", "version: 1\n<<: {rules: []}\n", `"<<": unknown field`},
		{"version missing", "rules: []\n", "trust.yaml:1:1: version: required"},
		{"version 2", "version: 2\nrules: []\n", "trust.yaml:1:10: version: unsupported version 2"},
		{"version string", "version: \"1\"\nrules: []\n", `version: want the number 1, not the string "1"`},
		{"version float", "version: 1.0\nrules: []\n", `version: want the number 1, not "1.0" (float)`},
		{"version huge", "version: 123456789012345678901234567890\nrules: []\n", "version: want the number 1"},
		{"rules missing", "version: 1\n", "trust.yaml:1:1: rules: required: at least one rule"},
		{"rules empty", "version: 1\nrules: []\n", "trust.yaml:2:8: rules: required: at least one rule"},
		{"rules a mapping", "version: 1\nrules: {a: b}\n", "rules: want a list of rules, not a mapping"},
		{"too many rules", manyRules, "rules: 257 rules, more than the 256 allowed"},
		{"rule a string", "version: 1\nrules: [x]\n", `rules[0]: want a mapping of name, match`},
		{"unknown rule field", rule(ok + "requireAuthor: true"), "trust.yaml:6:5: rules[0].requireAuthor: unknown field"},
		{"name missing", rule("match: [x]\nregistryCertificates: [certs/registry.pem]"), "rules[0].name: required"},
		{"name null", rule("name:\nmatch: [x]\nregistryCertificates: [certs/registry.pem]"), "rules[0].name: required"},
		{"name blank", rule("name: ' '\nmatch: [x]\nregistryCertificates: [certs/registry.pem]"), "rules[0].name: required"},
		{"name a list", rule("name: [a]\nmatch: [x]\nregistryCertificates: [certs/registry.pem]"), "rules[0].name: want a string, not a list"},
		{"name a number", rule("name: 7\nmatch: [x]\nregistryCertificates: [certs/registry.pem]"), `rules[0].name: want a string, not "7" (int)`},
		{"name control chars", rule("name: \"a\\x1b[31m\"\nmatch: [x]\nregistryCertificates: [certs/registry.pem]"), "rules[0].name: \"a\\x1b[31m\" is not a label"},
		{"duplicate names", "version: 1\nrules:\n  - {name: r, match: [a], registryCertificates: [certs/registry.pem]}\n  - {name: r, match: [b], registryCertificates: [certs/registry.pem]}\n", `trust.yaml:4:12: rules[1].name: "r" is also the name of rules[0]`},
		{"match missing", rule("name: r\nregistryCertificates: [certs/registry.pem]"), "rules[0].match: required: at least one pattern"},
		{"match empty", rule("name: r\nmatch: []\nregistryCertificates: [certs/registry.pem]"), "rules[0].match: required: at least one pattern"},
		{"match a string", rule("name: r\nmatch: acme/*\nregistryCertificates: [certs/registry.pem]"), `rules[0].match: want a list of patterns, not the string "acme/*"`},
		{"too many patterns", rule("name: r\nmatch: [" + strings.Repeat("a,", maxPatterns) + "a]\nregistryCertificates: [certs/registry.pem]"), "rules[0].match: 65 patterns, more than the 64 allowed"},
		{"malformed pattern", "version: 1\nrules:\n  - {name: a, match: [x], registryCertificates: [certs/registry.pem]}\n  - {name: b, match: [x, \"acme/[\"], registryCertificates: [certs/registry.pem]}\n", `trust.yaml:4:26: rules[1].match[1]: pattern "acme/[" is malformed: syntax error in pattern`},
		{"trailing backslash", rule("name: r\nmatch: ['acme\\']\nregistryCertificates: [certs/registry.pem]"), `rules[0].match[0]: pattern "acme\\" is malformed`},
		{"two slashes", rule("name: r\nmatch: [a/b/c]\nregistryCertificates: [certs/registry.pem]"), `rules[0].match[0]: pattern "a/b/c" has more than one '/'`},
		{"empty pattern", rule("name: r\nmatch: ['']\nregistryCertificates: [certs/registry.pem]"), `rules[0].match[0]: pattern "" is empty`},
		{"partial **", rule("name: r\nmatch: ['acme/**']\nregistryCertificates: [certs/registry.pem]"), `rules[0].match[0]: pattern "acme/**" uses "**"`},
		{"pattern too long", rule("name: r\nmatch: ['" + strings.Repeat("?", maxPatternLen+1) + "']\nregistryCertificates: [certs/registry.pem]"), `rules[0].match[0]: pattern "????`},
		{"path too long", rule("name: r\nmatch: [x]\nregistryCertificates: ['" + strings.Repeat("a", maxPathLen+1) + "']"), "rules[0].registryCertificates[0]: want a path of 1 to 4096 bytes"},
		{"pattern a number", rule("name: r\nmatch: [1]\nregistryCertificates: [certs/registry.pem]"), `rules[0].match[0]: want a string, not "1" (int)`},
		{"registry missing", rule("name: r\nmatch: [x]"), "rules[0].registryCertificates: required"},
		{"registry empty", rule("name: r\nmatch: [x]\nregistryCertificates: []"), "rules[0].registryCertificates: required"},
		{"too many files", rule("name: r\nmatch: [x]\nregistryCertificates: [" + strings.Repeat("certs/registry.pem,", maxCertFiles) + "certs/registry.pem]"), "rules[0].registryCertificates: 65 certificate files, more than the 64 allowed"},
		{"empty path", rule("name: r\nmatch: [x]\nregistryCertificates: ['']"), "rules[0].registryCertificates[0]: want a path of 1 to 4096 bytes"},
		{"unreadable file", rule("name: r\nmatch: [x]\nregistryCertificates: [certs/missing.pem]"), `rules[0].registryCertificates[0]: "certs/missing.pem": open certs/missing.pem: file does not exist`},
		{"not PEM", rule("name: r\nmatch: [x]\nregistryCertificates: [certs/der.pem]"), `rules[0].registryCertificates[0]: "certs/der.pem": no PEM block`},
		{"empty cert file", rule("name: r\nmatch: [x]\nregistryCertificates: [certs/empty.pem]"), `"certs/empty.pem": no CERTIFICATE PEM block`},
		{"a key, not a certificate", rule("name: r\nmatch: [x]\nregistryCertificates: [certs/key.pem]"), `"certs/key.pem": PEM block 1 is a "EC PRIVATE KEY", not a CERTIFICATE`},
		{"trailing garbage", rule("name: r\nmatch: [x]\nregistryCertificates: [certs/garbage.pem]"), `"certs/garbage.pem": text that is not PEM after PEM block 1`},
		{"cert file too large", rule("name: r\nmatch: [x]\nregistryCertificates: [certs/huge.pem]"), `"certs/huge.pem": larger than the 1048576 bytes`},
		{"leaf certificate", rule("name: r\nmatch: [x]\nregistryCertificates: [certs/leaf.pem]"), `"certs/leaf.pem": certificate 1 ("CN=leaf") is not a CA certificate`},
		{"CA then leaf", rule("name: r\nmatch: [x]\nregistryCertificates: [certs/ca-then-leaf.pem]"), `certificate 2 ("CN=leaf") is not a CA certificate`},
		{"no basic constraints", rule("name: r\nmatch: [x]\nregistryCertificates: [certs/noconstraints.pem]"), `"certs/noconstraints.pem": certificate 1 ("CN=no constraints") is not a CA certificate`},
		{"no certSign", rule("name: r\nmatch: [x]\nregistryCertificates: [certs/nocertsign.pem]"), `key usage lacks certSign`},
		{"bad author file", rule(ok + "authorCertificates: [certs/leaf.pem]"), `rules[0].authorCertificates[0]: "certs/leaf.pem": certificate 1`},
		{"authors a string", rule(ok + "authorCertificates: certs/authors.pem"), `rules[0].authorCertificates: want a list of certificate files`},
		{"author required without authors", rule(ok + "requireAuthorSignature: true"), "trust.yaml:6:29: rules[0].requireAuthorSignature: true needs authorCertificates"},
		{"author required, empty authors", rule(ok + "authorCertificates: []\nrequireAuthorSignature: true"), "rules[0].requireAuthorSignature: true needs authorCertificates"},
		{"requireAuthorSignature yes", rule(ok + "authorCertificates: [certs/authors.pem]\nrequireAuthorSignature: yes"), `rules[0].requireAuthorSignature: want true or false, not the string "yes"`},
		{"too large", "version: 1\n#" + strings.Repeat("x", maxPolicySize), "trust.yaml: 1048588 bytes, more than the 1048576"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pol, _, err := f.parse(t, "trust.yaml", tt.yaml)
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("ParsePolicy = %v, %v; want an error wrapping ErrInvalidPolicy", pol, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParsePolicy error\n  %v\nwant it to contain\n  %s", err, tt.want)
			}
		})
	}
}

func TestParsePolicyListsProblems(t *testing.T) {
	t.Parallel()
	f := newPolicyFixture(t)
	yml := "version: 2\nrules:\n" + strings.Repeat("  - {name: x, match: ['['], registryCertificates: [certs/missing.pem]}\n", 30)
	_, _, err := f.parse(t, "trust.yaml", yml)
	if !errors.Is(err, ErrInvalidPolicy) {
		t.Fatalf("ParsePolicy = %v; want ErrInvalidPolicy", err)
	}
	msg := err.Error()
	for _, want := range []string{"trust.yaml: 90 problems:\n", "version: unsupported version 2", "rules[0].match[0]", "rules[0].registryCertificates[0]", "rules[1].name", "and 70 more"} {
		if !strings.Contains(msg, want) {
			t.Errorf("ParsePolicy error\n%s\nwant it to contain %q", msg, want)
		}
	}
}

func TestPolicyFor(t *testing.T) {
	t.Parallel()
	pol := &Policy{File: "/home/u/.config/capcenter/trust.yaml", Rules: []Rule{
		{Name: "acme-gateway", Match: []string{"acme/gateway"}},
		{Name: "acme", Match: []string{"acme/*"}},
		{Name: "top", Match: []string{"web*", "[a-c]?"}},
		{Name: "namespaced", Match: []string{"*/*"}},
	}}
	all := &Policy{Rules: []Rule{{Name: "first", Match: []string{"x"}}, {Name: "all", Match: []string{"**"}}, {Name: "never", Match: []string{"**"}}}}
	tests := []struct {
		pol        *Policy
		name, rule string
	}{
		{pol, "acme/gateway", "acme-gateway"},
		{pol, "acme/db", "acme"},
		{pol, "webservice", "top"},
		{pol, "bz", "top"},
		{pol, "other/webservice", "namespaced"},
		{pol, "acme", ""},           // "acme/*" needs a second part
		{pol, "a/b/c", ""},          // '*' never crosses '/'
		{pol, "webservice/x/y", ""}, // nor does "*/*" match three parts
		{all, "x", "first"},
		{all, "acme/gateway", "all"},
		{all, "", "all"},
		{&Policy{}, "x", ""},
		{nil, "x", ""},
	}
	for _, tt := range tests {
		r, err := tt.pol.For(tt.name)
		switch {
		case tt.rule == "" && !errors.Is(err, ErrNoPolicy):
			t.Errorf("For(%q) = %v, %v; want ErrNoPolicy", tt.name, r, err)
		case tt.rule == "" && !strings.Contains(err.Error(), tt.name+":"):
			t.Errorf("For(%q) error %q does not name the capability", tt.name, err)
		case tt.rule != "" && (err != nil || r.Name != tt.rule):
			t.Errorf("For(%q) = %v, %v; want rule %q", tt.name, r, err, tt.rule)
		}
	}
	_, err := pol.For("acme")
	if want := "acme: no trust policy: no rule in /home/u/.config/capcenter/trust.yaml matches it"; err == nil || err.Error() != want {
		t.Errorf("For(acme) = %v; want %q", err, want)
	}
}

func TestLoadPolicy(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "certs", "registry.pem"), testCertPEM(t, "registry CA", nil))
	mustWrite(t, filepath.Join(dir, "trust.yaml"), []byte("version: 1\nrules:\n  - name: all\n    match: ['**']\n    registryCertificates: [certs/registry.pem]\n"))
	pol, err := LoadPolicy(filepath.Join(dir, "trust.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := pol.For("acme/gateway")
	if err != nil || r.Name != "all" || len(r.Registry) != 1 || r.Registry[0].Subject.CommonName != "registry CA" {
		t.Fatalf("For = %+v, %v; want rule all trusting registry CA", r, err)
	}

	t.Run("missing file", func(t *testing.T) {
		t.Parallel()
		_, err := LoadPolicy(filepath.Join(dir, "nope.yaml"))
		if !errors.Is(err, ErrInvalidPolicy) || !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "invalid trust policy: open ") || !strings.Contains(err.Error(), "nope.yaml") {
			t.Errorf("LoadPolicy of a missing file = %v; want ErrInvalidPolicy and fs.ErrNotExist naming it", err)
		}
	})
	t.Run("policy too large", func(t *testing.T) {
		t.Parallel()
		big := filepath.Join(t.TempDir(), "big.yaml")
		mustWrite(t, big, make([]byte, maxPolicySize+10))
		_, err := LoadPolicy(big)
		if !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), "1048577 bytes, more than") {
			t.Errorf("LoadPolicy of a large file = %v; want it too large", err)
		}
	})
	t.Run("certificate path is a folder", func(t *testing.T) {
		t.Parallel()
		d := t.TempDir()
		mustWrite(t, filepath.Join(d, "trust.yaml"), []byte("version: 1\nrules: [{name: a, match: [a], registryCertificates: [.]}]\n"))
		_, err := LoadPolicy(filepath.Join(d, "trust.yaml"))
		if !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), "rules[0].registryCertificates[0]") || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("LoadPolicy = %v; want registryCertificates[0] not a regular file", err)
		}
	})
	t.Run("certificate file too large", func(t *testing.T) {
		t.Parallel()
		d := t.TempDir()
		mustWrite(t, filepath.Join(d, "big.pem"), make([]byte, 2*maxCertFileSize))
		mustWrite(t, filepath.Join(d, "trust.yaml"), []byte("version: 1\nrules: [{name: a, match: [a], registryCertificates: [big.pem]}]\n"))
		_, err := LoadPolicy(filepath.Join(d, "trust.yaml"))
		if !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), "big.pem\": larger than") {
			t.Errorf("LoadPolicy = %v; want big.pem too large", err)
		}
	})
}

func TestLoadPolicyExample(t *testing.T) {
	t.Parallel()
	pol, err := LoadPolicy(filepath.Join("testdata", "policy", "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"acme/gateway": "acme", "webservice": "everything-else", "other/db": "everything-else"} {
		if r, err := pol.For(name); err != nil || r.Name != want {
			t.Errorf("For(%q) = %v, %v; want rule %q", name, r, err, want)
		}
	}
	if r := pol.Rules[0]; !r.RequireAuthor || len(r.Authors) != 1 || len(r.Registry) != 1 {
		t.Errorf("rule acme = %+v; want one registry and one author CA, author required", r)
	}
}

func TestDefaultPolicyPath(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", "/xdg")
	got, err := DefaultPolicyPath()
	if want := filepath.Join("/xdg", "capcenter", "trust.yaml"); err != nil || got != want {
		t.Errorf("DefaultPolicyPath = %q, %v; want %q", got, err, want)
	}
}

func TestParseCertificates(t *testing.T) {
	t.Parallel()
	ca := testCertPEM(t, "a", nil)
	ca2 := testCertPEM(t, "b", nil)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	truncated := ca[:len(ca)-30]
	badBase64 := []byte(strings.Replace(string(ca), "\n", "\n!!!!", 2))
	tests := []struct {
		name  string
		data  []byte
		certs int
		err   string
	}{
		{"one", ca, 1, ""},
		{"two with comments and blank lines", cat([]byte("# a\n"), ca, []byte("\n\n# b\n"), ca2, []byte("\n \t\n")), 2, ""},
		{"empty", nil, 0, "no CERTIFICATE PEM block: the data is empty"},
		{"whitespace", []byte(" \n\t"), 0, "no CERTIFICATE PEM block: the data is empty"},
		{"DER", mustDER(t, ca), 0, "no PEM block"},
		{"trailing text", cat(ca, []byte("junk")), 0, "text that is not PEM after PEM block 1"},
		{"truncated last", cat(ca, truncated), 0, "PEM block 2 is malformed"},
		{"truncated middle", cat(ca, truncated, ca2), 0, "PEM block 2 is malformed"},
		{"bad base64 first", cat(badBase64, ca2), 0, "PEM block 1 is malformed"},
		{"a key", cat(ca, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}})), 0, `PEM block 2 is a "PRIVATE KEY", not a CERTIFICATE`},
		{"not X.509", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x03, 1, 2, 3}}), 0, "PEM block 1: x509:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			certs, err := ParseCertificates(tt.data)
			if tt.err == "" {
				if err != nil || len(certs) != tt.certs {
					t.Fatalf("ParseCertificates = %d certificates, %v; want %d", len(certs), err, tt.certs)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("ParseCertificates = %d certificates, %v; want error containing %q", len(certs), err, tt.err)
			}
		})
	}
}

func mustWrite(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func ExamplePolicy_For() {
	pol, err := LoadPolicy(filepath.Join("testdata", "policy", "example.yaml"))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, name := range []string{"acme/gateway", "webservice"} {
		r, _ := pol.For(name)
		fmt.Printf("%s: rule %s, author signature required: %v\n", name, r.Name, r.RequireAuthor)
	}
	// Output:
	// acme/gateway: rule acme, author signature required: true
	// webservice: rule everything-else, author signature required: false
}
