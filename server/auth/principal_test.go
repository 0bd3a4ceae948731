package auth

import (
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestPrincipalScopes(t *testing.T) {
	t.Parallel()
	p := func(scopes ...string) *Principal { return &Principal{Name: "p", Scopes: scopes} }
	tests := []struct {
		name      string
		p         *Principal
		read      bool
		admin     bool
		publishes []string
		refuses   []string
	}{
		{"anonymous", nil, false, false, nil, []string{"acme/web", "web"}},
		{"read", p(ScopeRead), true, false, nil, []string{"acme/web", "web"}},
		{"publish:acme", p("publish:acme"), false, false, []string{"acme/web", "acme/a/b"}, []string{"web", "acmex/web", "acme", "other/acme"}},
		{"publish:*", p(ScopePublishAll), false, false, []string{"acme/web", "web"}, nil},
		{"admin", p(ScopeAdmin), true, true, []string{"acme/web", "web"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.p.CanRead(); got != tt.read {
				t.Errorf("CanRead = %v", got)
			}
			if got := tt.p.IsAdmin(); got != tt.admin {
				t.Errorf("IsAdmin = %v", got)
			}
			for _, n := range tt.publishes {
				if !tt.p.CanPublish(n) || Check(tt.p, NeedPublish(n)) != nil {
					t.Errorf("CanPublish(%q) = false", n)
				}
			}
			for _, n := range tt.refuses {
				if tt.p.CanPublish(n) {
					t.Errorf("CanPublish(%q) = true", n)
				}
			}
		})
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	reader := &Principal{Name: "r", Scopes: []string{ScopeRead}}
	tests := []struct {
		name string
		p    *Principal
		need Need
		want error
		msg  string
	}{
		{"anonymous", nil, NeedRead(), ErrUnauthenticated, "missing or invalid token"},
		{"anonymous, any principal", nil, Need{}, ErrUnauthenticated, ""},
		{"any principal", reader, Need{}, nil, ""},
		{"read", reader, NeedRead(), nil, ""},
		{"publish namespaced", reader, NeedPublish("acme/web"), ErrPermissionDenied, "scope publish:acme"},
		{"publish plain", reader, NeedPublish("web"), ErrPermissionDenied, "scope publish:*"},
		{"admin", reader, NeedAdmin(), ErrPermissionDenied, "scope admin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := Check(tt.p, tt.need)
			if !errors.Is(err, tt.want) || (err != nil && !strings.Contains(err.Error(), tt.msg)) {
				t.Fatalf("Check = %v; want %v with %q", err, tt.want, tt.msg)
			}
		})
	}
}

func TestNewTokenAndAuthenticate(t *testing.T) {
	t.Parallel()
	token, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^capd_[A-Za-z0-9_-]{43}$`).MatchString(token) {
		t.Fatalf("token %q", token)
	}
	data, err := AddToken(nil, Entry{Name: "ci", SHA256: Hash(token), Scopes: []string{ScopeRead}})
	if err != nil {
		t.Fatal(err)
	}
	toks, err := ParseTokens(data)
	if err != nil {
		t.Fatal(err)
	}
	basic := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	tests := []struct {
		header string
		want   string // principal name; "" anonymous
		err    bool
	}{
		{"", "", false},
		{"Bearer " + token, "ci", false},
		{"bearer  " + token + " ", "ci", false},
		{basic("anything", token), "ci", false},
		{basic("", token), "ci", false},
		{"Bearer " + token + "x", "", true},
		{"Bearer", "", true},
		{basic(token, ""), "", true},
		{"Basic !!!", "", true},
		{"Token " + token, "", true},
	}
	for _, tt := range tests {
		p, err := toks.Authenticate(tt.header)
		if (err != nil) != tt.err || (err != nil && !errors.Is(err, ErrUnauthenticated)) {
			t.Errorf("Authenticate(%.20q) error %v", tt.header, err)
		}
		got := ""
		if p != nil {
			got = p.Name
		}
		if got != tt.want {
			t.Errorf("Authenticate(%.20q) = %v, want %q", tt.header, p, tt.want)
		}
	}
}

func TestAddToken(t *testing.T) {
	t.Parallel()
	file := "# capd tokens\nversion: 1\ntokens:\n  # the CI\n  - name: ci\n    sha256: " + hashA + "\n    scopes: [read]\n"
	out, err := AddToken([]byte(file), Entry{Name: "ops", SHA256: hashB, Scopes: []string{ScopeAdmin, "publish:acme"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# capd tokens", "# the CI", "name: ops", hashB, "admin", "publish:acme"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("AddToken lost %q:\n%s", want, out)
		}
	}
	toks, err := ParseTokens(out)
	if err != nil || toks.Len() != 2 {
		t.Fatalf("ParseTokens(AddToken) = %v, %v", toks, err)
	}
	for name, e := range map[string]Entry{
		"duplicate name": {Name: "ci", SHA256: hashB, Scopes: []string{ScopeRead}},
		"duplicate hash": {Name: "x", SHA256: hashA, Scopes: []string{ScopeRead}},
		"bad scope":      {Name: "x", SHA256: hashB, Scopes: []string{"write"}},
		"bad name":       {Name: "a b", SHA256: hashB, Scopes: []string{ScopeRead}},
	} {
		if _, err := AddToken([]byte(file), e); !errors.Is(err, ErrInvalidTokenFile) {
			t.Errorf("%s: AddToken = %v", name, err)
		}
	}
	if _, err := AddToken([]byte("version: 2\n"), Entry{Name: "x", SHA256: hashB, Scopes: []string{ScopeRead}}); !errors.Is(err, ErrInvalidTokenFile) {
		t.Errorf("AddToken to an invalid file = %v", err)
	}
}
