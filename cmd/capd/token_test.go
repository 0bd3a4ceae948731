package main

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/capcenter/capcenter/server/auth"
)

func TestParseTokenArgs(t *testing.T) {
	t.Parallel()
	tests := []parseCase{
		{"no tokens by default, anonymous read on", nil, nil,
			func(c config) bool { return c.tokens == "" && c.anonymousRead }, ""},
		{"tokens flag", []string{"--tokens", "t.yaml", "--anonymous-read=false"}, nil,
			func(c config) bool { return c.tokens == "t.yaml" && !c.anonymousRead }, ""},
		{"tokens env", nil, map[string]string{"CAPD_TOKENS": "e.yaml", "CAPD_ANONYMOUS_READ": "false"},
			func(c config) bool { return c.tokens == "e.yaml" && !c.anonymousRead }, ""},
		{"bad anonymous read", nil, map[string]string{"CAPD_ANONYMOUS_READ": "maybe"}, nil, "CAPD_ANONYMOUS_READ"},
		{"token create", []string{"token", "create", "--name", "ci", "--scope", "read", "--scope", "publish:acme", "--file", "f"}, nil,
			func(c config) bool {
				return c.command == "token" && c.tokenName == "ci" && c.tokens == "f" &&
					strings.Join(c.tokenScopes, " ") == "read publish:acme"
			}, ""},
		{"token create file from env", []string{"token", "create", "--name", "ci", "--scope", "admin"}, map[string]string{"CAPD_TOKENS": "e"},
			func(c config) bool { return c.tokens == "e" }, ""},
		{"token without create", []string{"token"}, nil, nil, "capd token create"},
		{"token create without a name", []string{"token", "create", "--scope", "read", "--file", "f"}, nil, nil, "--name is required"},
		{"token create without a scope", []string{"token", "create", "--name", "ci", "--file", "f"}, nil, nil, "--scope is required"},
		{"token create without a file", []string{"token", "create", "--name", "ci", "--scope", "read"}, nil, nil, "--file"},
		{"token create with a bad scope", []string{"token", "create", "--name", "ci", "--scope", "write", "--file", "f"}, nil, nil, `scope "write"`},
		{"token create takes no serve flags", []string{"token", "create", "--tokens", "f"}, nil, nil, "tokens"},
		{"rate limits by default", nil, nil,
			func(c config) bool {
				return c.rateLimit == defaultRateLimit && c.anonymousRateLimit == defaultAnonymousRateLimit
			}, ""},
		{"anonymous rate limit flag", []string{"--anonymous-rate-limit", "0"}, nil,
			func(c config) bool { return c.anonymousRateLimit == 0 }, ""},
		{"anonymous rate limit env", nil, map[string]string{"CAPD_ANONYMOUS_RATE_LIMIT": "2.5"},
			func(c config) bool { return c.anonymousRateLimit == 2.5 }, ""},
		{"negative anonymous rate limit", nil, map[string]string{"CAPD_ANONYMOUS_RATE_LIMIT": "-1"}, nil, "CAPD_ANONYMOUS_RATE_LIMIT"},
	}
	runParseCases(t, tests)
}

// createTokenFor runs `capd token create` and returns the token printed.
func createTokenFor(t *testing.T, file, name string, scopes ...string) (string, error) {
	t.Helper()
	args := []string{"token", "create", "--name", name, "--file", file}
	for _, s := range scopes {
		args = append(args, "--scope", s)
	}
	cfg, err := parseArgs(args, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	err = run(t.Context(), cfg, &stdout, io.Discard)
	return strings.TrimSpace(stdout.String()), err
}

func TestTokenCreate(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "tokens.yaml")
	ci, err := createTokenFor(t, file, "ci", "read", "publish:acme")
	if err != nil {
		t.Fatal(err)
	}
	ops, err := createTokenFor(t, file, "ops", "admin")
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(file)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v, %v; want mode 0600", info, err)
	}
	data, _ := os.ReadFile(file)
	if bytes.Contains(data, []byte(ci)) || bytes.Contains(data, []byte(ops)) {
		t.Fatal("the token file holds a token, not its hash")
	}
	toks, err := auth.ParseTokens(data)
	if err != nil {
		t.Fatal(err)
	}
	for tok, want := range map[string]string{ci: "ci", ops: "ops"} {
		if p, err := toks.Authenticate("Bearer " + tok); err != nil || p.Name != want {
			t.Errorf("Authenticate(%s's token) = %v, %v", want, p, err)
		}
	}
	if tok, err := createTokenFor(t, file, "ci", "read"); err == nil || tok != "" {
		t.Errorf("a second token named ci: %q, %v; want an error and nothing printed", tok, err)
	}
	if after, _ := os.ReadFile(file); !bytes.Equal(after, data) {
		t.Error("a refused token create changed the file")
	}
	entries, _ := os.ReadDir(filepath.Dir(file))
	if len(entries) != 1 {
		t.Errorf("the folder holds %d files; want only the token file", len(entries))
	}
}

// TestServeWithTokens runs capd with a token file and anonymous read off:
// the REST gateway refuses a call without a token and answers one with,
// and the log never holds the token.
func TestServeWithTokens(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "tokens.yaml")
	tok, err := createTokenFor(t, file, "reader", "read")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config{
		command: "serve", data: t.TempDir(), grpcAddr: "127.0.0.1:0", httpAddr: "127.0.0.1:0",
		logLevel: slog.LevelInfo, shutdownTimeout: 5 * time.Second, tokens: file,
	}
	s := serveInBackground(t, cfg)
	httpURL := s.httpURL
	for header, want := range map[string]int{"": 401, "Bearer " + tok: 200, "Bearer capd_wrong": 401} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, httpURL+"/v1/capabilities", nil)
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET /v1/capabilities with %.12q: %d, want %d", header, resp.StatusCode, want)
		}
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	if l := s.logs.String(); strings.Contains(l, tok) || !strings.Contains(l, "principal=reader") {
		t.Errorf("logs hold the token or lack the principal:\n%s", l)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestReloadTokens sends reloadTokens a good file, a bad one and a good
// one again: the tokens follow the good files, the bad one is refused
// with its file and line in the log, and the log never holds a token or
// a hash.
func TestReloadTokens(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "tokens.yaml")
	first, err := createTokenFor(t, file, "first", "read")
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := auth.NewReloader(file)
	if err != nil {
		t.Fatal(err)
	}
	logs := new(syncBuffer)
	hup := make(chan os.Signal)
	done := make(chan struct{})
	go func() {
		defer close(done)
		reloadTokens(hup, tokens, slog.New(slog.NewTextHandler(logs, nil)))
	}()
	second, err := createTokenFor(t, file, "second", "admin")
	if err != nil {
		t.Fatal(err)
	}
	hup <- syscall.SIGHUP
	waitLog(t, logs, "tokens=2")
	good, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, append(good, "  - oops\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	hup <- syscall.SIGHUP
	close(hup)
	<-done
	if p, err := tokens.Authenticate("Bearer " + second); err != nil || p.Name != "second" {
		t.Errorf("after a good reload and a bad one, the added token: %v, %v", p, err)
	}
	l := logs.String()
	for _, want := range []string{"token file reloaded", "tokens=2", "token file not reloaded", file + ": line ", "stay in use"} {
		if !strings.Contains(l, want) {
			t.Errorf("the log lacks %q:\n%s", want, l)
		}
	}
	for _, secret := range []string{first, second, auth.Hash(first), auth.Hash(second)} {
		if strings.Contains(l, secret) {
			t.Errorf("the log holds a token or a hash:\n%s", l)
		}
	}
}

// waitLog waits for logs to hold want, failing t after a while.
func waitLog(t *testing.T, logs *syncBuffer, want string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(logs.String(), want); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the log lacks %q:\n%s", want, logs)
		}
	}
}
