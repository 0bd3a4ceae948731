package auth

import (
	"errors"
	"strings"
	"testing"
)

// hashA and hashB are well-formed hashes.
var (
	hashA = Hash("capd_a")
	hashB = Hash("capd_b")
)

func TestParseTokens(t *testing.T) {
	t.Parallel()
	valid := "version: 1\ntokens:\n  - name: ci\n    sha256: " + hashA + "\n    scopes: [read, publish:acme]\n" +
		"  - name: ops@example.com\n    sha256: " + hashB + "\n    scopes:\n      - admin\n"
	entry := func(fields string) string { return "version: 1\ntokens:\n  - " + fields + "\n" }
	ok := "name: ci, sha256: " + hashA + ", scopes: [read]"
	tests := []struct {
		name, in, wantErr string
	}{
		{"valid", valid, ""},
		{"no tokens", "version: 1\ntokens: []\n", ""},
		{"flow entry", entry("{" + ok + "}"), ""},
		{"publish all", entry("{name: a, sha256: " + hashA + ", scopes: [publish:*]}"), ""},
		{"empty", "", "empty; want version: 1"},
		{"comments only", "# tokens\n", "empty"},
		{"not a mapping", "- 1\n", "want a mapping"},
		{"no version", "tokens: []\n", "version: missing"},
		{"version 2", "version: 2\ntokens: []\n", `version: "2" is not 1`},
		{"version string", "version: \"1\"\ntokens: []\n", "version: want the number"},
		{"no tokens field", "version: 1\n", "tokens: missing"},
		{"tokens not a list", "version: 1\ntokens: {}\n", "tokens: want a list"},
		{"unknown top field", "version: 1\ntokens: []\nusers: []\n", `"users": unknown field`},
		{"duplicate top field", "version: 1\nversion: 1\ntokens: []\n", "version: duplicate field"},
		{"entry not a mapping", entry("ci"), "tokens[0]: want a mapping"},
		{"unknown entry field", entry("{" + ok + ", password: x}"), `tokens[0]: "password": unknown field`},
		{"duplicate entry field", entry("{" + ok + ", name: other}"), "tokens[0].name: duplicate field"},
		{"missing hash", entry("{name: ci, scopes: [read]}"), "tokens[0].sha256: missing"},
		{"missing scopes", entry("{name: ci, sha256: " + hashA + "}"), "tokens[0].scopes: missing"},
		{"empty scopes", entry("{name: ci, sha256: " + hashA + ", scopes: []}"), "tokens[0].scopes: want a list of at least one"},
		{"unknown scope", entry("{name: ci, sha256: " + hashA + ", scopes: [write]}"), `tokens[0].scopes[0]: scope "write"`},
		{"publish without namespace", entry("{name: ci, sha256: " + hashA + ", scopes: [\"publish:\"]}"), "tokens[0].scopes[0]"},
		{"publish nested namespace", entry("{name: ci, sha256: " + hashA + ", scopes: [publish:a/b]}"), "no '/'"},
		{"publish upper case", entry("{name: ci, sha256: " + hashA + ", scopes: [publish:Acme]}"), "namespace"},
		{"repeated scope", entry("{name: ci, sha256: " + hashA + ", scopes: [read, read]}"), `scopes[1]: "read" repeats`},
		{"scope not a string", entry("{name: ci, sha256: " + hashA + ", scopes: [[read]]}"), "scopes[0]: want a string"},
		{"short hash", entry("{name: ci, sha256: abc, scopes: [read]}"), "tokens[0].sha256: \"abc\" is not 64"},
		{"upper-case hash", entry("{name: ci, sha256: " + strings.ToUpper(hashA) + ", scopes: [read]}"), "lower-case hex"},
		{"non-hex hash", entry("{name: ci, sha256: " + strings.Repeat("g", 64) + ", scopes: [read]}"), "is not 64"},
		{"hash as number", entry("{name: ci, sha256: 1234, scopes: [read]}"), "sha256: want a string"},
		{"bad name", entry("{name: \"a b\", sha256: " + hashA + ", scopes: [read]}"), `tokens[0].name: "a b"`},
		{"control character in name", entry("{name: \"a\\x07\", sha256: " + hashA + ", scopes: [read]}"), `"a\a"`},
		{"duplicate name", valid + "  - {name: ci, sha256: " + Hash("c") + ", scopes: [read]}\n", `tokens[2].name: "ci" is the name of tokens[0]`},
		{"duplicate hash", valid + "  - {name: ci2, sha256: " + hashA + ", scopes: [read]}\n", "the hash of tokens[0] too"},
		{"anchor", "version: 1\ntokens:\n  - &a {" + ok + "}\n", "anchors are not allowed"},
		{"alias", "version: 1\nx: &a 1\ntokens: []\n", "anchors are not allowed"},
		{"tag", "version: !!int 1\ntokens: []\n", "tags are not allowed"},
		{"second document", "version: 1\ntokens: []\n---\nversion: 1\n", "second document"},
		{"too large", "version: 1\ntokens: []\n#" + strings.Repeat("x", MaxTokenFileSize), "more than"},
		{"syntax error", "version: 1\ntokens: [\n", "line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			toks, err := ParseTokens([]byte(tt.in))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseTokens: %v", err)
				}
				if strings.Contains(tt.in, hashA) && toks.Lookup("capd_a") == nil {
					t.Error("Lookup(capd_a) = nil")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalidTokenFile) {
				t.Fatalf("ParseTokens = %v; want an ErrInvalidTokenFile about %q", err, tt.wantErr)
			}
		})
	}
}

// hostileSeeds are token files meant to break a parser.
func hostileSeeds() []string {
	return []string{
		"version: 1\ntokens: []\n",
		"version: 1\ntokens:\n  - {name: ci, sha256: " + hashA + ", scopes: [read, publish:acme, admin, publish:*]}\n",
		// A billion laughs.
		"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n" +
			"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\nversion: 1\ntokens: *d\n",
		"version: 1\ntokens: &t [*t]\n",
		strings.Repeat("[", 20000) + strings.Repeat("]", 20000),
		strings.Repeat("- ", 5000) + "x\n",
		"version: 1\ntokens: [" + strings.Repeat("{name: a, sha256: "+hashA+", scopes: [read]},", 500) + "]\n",
		"version: 1\nversion: 2\ntokens: []\n",
		"version: 1\ntokens:\n  - {name: a, name: b, sha256: " + hashA + ", scopes: [read]}\n",
		"version: 1\ntokens:\n  - {name: \"\\x00\\x1b[31m\", sha256: " + hashA + ", scopes: [read]}\n",
		"version: 1\ntokens:\n  - {name: a, sha256: \"" + strings.Repeat("z", 64) + "\", scopes: [read]}\n",
		"version: 1\ntokens:\n  - {name: a, sha256: " + hashA + ", scopes: [read], extra: {deep: [1, 2]}}\n",
		"version: 1\ntokens:\n  - {? [a, b] : c}\n",
		"version: 1\ntokens:\n  - !!binary aGVsbG8=\n",
		"%YAML 1.1\n---\nversion: 1\ntokens: []\n",
		"version: 0x1\ntokens: []\n",
		"version: 1.0\ntokens: []\n",
		"version: 1\ntokens: null\n",
		"\xef\xbb\xbfversion: 1\ntokens: []\n",
		"version: 1\ntokens: []\n\x00",
		"version: 1\ntokens:\n  - name: a\n    sha256: " + hashA + "\n    scopes: [publish:" + strings.Repeat("a", 70) + "]\n",
		"{version: 1, tokens: [{name: a, sha256: " + hashA + ", scopes: [\"publish:\\u0061cme\"]}]}",
	}
}

// FuzzParseTokens checks that ParseTokens never panics, and that what it
// accepts is well-formed: every principal has a valid name and valid,
// distinct scopes.
func FuzzParseTokens(f *testing.F) {
	for _, s := range hostileSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		toks, err := ParseTokens(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidTokenFile) {
				t.Fatalf("error %v is not ErrInvalidTokenFile", err)
			}
			return
		}
		for _, p := range toks.byHash {
			if !namePattern.MatchString(p.Name) || len(p.Scopes) == 0 {
				t.Fatalf("accepted principal %+v", p)
			}
			for _, s := range p.Scopes {
				if ValidateScope(s) != nil {
					t.Fatalf("accepted scope %q", s)
				}
			}
		}
	})
}

func TestHostileSeedsRefusedOrSmall(t *testing.T) {
	t.Parallel()
	for i, s := range hostileSeeds() {
		toks, err := ParseTokens([]byte(s))
		if err == nil && toks.Len() > 1 {
			t.Errorf("seed %d: accepted %d tokens", i, toks.Len())
		}
	}
}
