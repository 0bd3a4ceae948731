package auth

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// newTestToken returns a new token.
func newTestToken(t *testing.T) string {
	t.Helper()
	tok, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// writeTokens writes a token file holding the tokens of byName, each
// with scope read, to path.
func writeTokens(t *testing.T, path string, byName map[string]string) {
	t.Helper()
	var data []byte
	for name, tok := range byName {
		var err error
		if data, err = AddToken(data, Entry{Name: name, SHA256: Hash(tok), Scopes: []string{ScopeRead}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestReloader checks the three outcomes of a reload: a good file
// replaces the tokens, so a removed token is refused and an added one
// works; a bad file keeps the tokens read before and says so, naming the
// file and the line; a missing file does the same.
func TestReloader(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "tokens.yaml")
	removed, kept, added := newTestToken(t), newTestToken(t), newTestToken(t)
	writeTokens(t, path, map[string]string{"removed": removed, "kept": kept})
	r, err := NewReloader(path)
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string, want map[string]string) {
		t.Helper()
		for tok, name := range want {
			got := ErrUnauthenticated.Error()
			if p, err := r.Authenticate("Bearer " + tok); err == nil {
				got = p.Name
			}
			if got != name {
				t.Errorf("%s: the token of %s authenticates as %s", when, name, got)
			}
		}
	}
	unknown := ErrUnauthenticated.Error()
	check("before a reload", map[string]string{removed: "removed", kept: "kept", added: unknown})

	writeTokens(t, path, map[string]string{"kept": kept, "added": added})
	got, err := r.Reload()
	if err != nil || got.Len() != 2 || r.Tokens() != got {
		t.Fatalf("Reload of a good file = %v, %v; want its 2 tokens in use", got, err)
	}
	check("after a good reload", map[string]string{removed: unknown, kept: "kept", added: "added"})

	bad := "version: 1\ntokens:\n  - name: x\n    sha256: nothex\n    scopes: [read]\n"
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reload(); !errors.Is(err, ErrInvalidTokenFile) ||
		!strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "line 4") || !strings.Contains(err.Error(), "stay in use") {
		t.Errorf("Reload of a bad file = %v; want an ErrInvalidTokenFile naming %s, line 4 and that nothing changed", err, path)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reload(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Reload of a missing file = %v; want fs.ErrNotExist", err)
	}
	check("after failed reloads", map[string]string{removed: unknown, kept: "kept", added: "added"})
}

// TestReloaderConcurrent authenticates while the file is reloaded, for
// the race detector: every call sees one whole set or the other.
func TestReloaderConcurrent(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "tokens.yaml")
	tok := newTestToken(t)
	writeTokens(t, path, map[string]string{"a": tok})
	r, err := NewReloader(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				if p, err := r.Authenticate("Bearer " + tok); err != nil || p.Name != "a" {
					t.Errorf("Authenticate during reloads = %v, %v", p, err)
					return
				}
			}
		})
	}
	for range 20 {
		if _, err := r.Reload(); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
}

// TestReadTokenFileBounds checks that a file over MaxTokenFileSize is
// refused without being read whole, and that a token pasted in place of
// its hash is not repeated in the error.
func TestReadTokenFileBounds(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, make([]byte, MaxTokenFileSize+10), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadTokenFile(big); !errors.Is(err, ErrInvalidTokenFile) || !strings.Contains(err.Error(), "more than") {
		t.Errorf("ReadTokenFile(too big) = %v", err)
	}
	tok := newTestToken(t)
	pasted := filepath.Join(dir, "pasted.yaml")
	data := "version: 1\ntokens:\n  - {name: x, sha256: " + tok + ", scopes: [read]}\n"
	if err := os.WriteFile(pasted, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := ReadTokenFile(pasted)
	if err == nil || strings.Contains(err.Error(), tok[len(TokenPrefix):len(TokenPrefix)+8]) || !strings.Contains(err.Error(), "a token, not its hash") {
		t.Errorf("ReadTokenFile(a token for a hash) = %v; want an error that does not repeat it", err)
	}
}
