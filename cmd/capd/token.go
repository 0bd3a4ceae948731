package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/capcenter/capcenter/server/auth"
)

// tokenFlags declares --tokens and --anonymous-read for serving.
func tokenFlags(fs *flag.FlagSet, cfg *config, env func(name, def string) string) error {
	fs.StringVar(&cfg.tokens, "tokens", env("CAPD_TOKENS", ""),
		"the token file (see capd token create); set, every call needs a token with the right scope, except reads when --anonymous-read is on (env CAPD_TOKENS)")
	anon, err := strconv.ParseBool(env("CAPD_ANONYMOUS_READ", "true"))
	if err != nil {
		return fmt.Errorf("CAPD_ANONYMOUS_READ: %w", err)
	}
	fs.BoolVar(&cfg.anonymousRead, "anonymous-read", anon,
		"with --tokens, let calls without a token read the catalog and pull (env CAPD_ANONYMOUS_READ)")
	rateLimit, err := strconv.ParseFloat(env("CAPD_RATE_LIMIT", strconv.FormatFloat(defaultRateLimit, 'g', -1, 64)), 64)
	if err != nil || rateLimit < 0 {
		return fmt.Errorf("CAPD_RATE_LIMIT: want requests a second, at least 0: %q", env("CAPD_RATE_LIMIT", ""))
	}
	fs.Float64Var(&cfg.rateLimit, "rate-limit", rateLimit,
		"with --tokens, the requests a second each token may make, in bursts of twice that; 0 for no limit (env CAPD_RATE_LIMIT)")
	anonLimit, err := strconv.ParseFloat(env("CAPD_ANONYMOUS_RATE_LIMIT", strconv.FormatFloat(defaultAnonymousRateLimit, 'g', -1, 64)), 64)
	if err != nil || anonLimit < 0 {
		return fmt.Errorf("CAPD_ANONYMOUS_RATE_LIMIT: want requests a second, at least 0: %q", env("CAPD_ANONYMOUS_RATE_LIMIT", ""))
	}
	fs.Float64Var(&cfg.anonymousRateLimit, "anonymous-rate-limit", anonLimit,
		"with --tokens, the requests a second each client address (IPv4 address, IPv6 /64) may make without a token, in bursts of twice that; 0 for no limit (env CAPD_ANONYMOUS_RATE_LIMIT)")
	publishes, err := strconv.Atoi(env("CAPD_MAX_CONCURRENT_PUBLISHES", "0"))
	if err != nil || publishes < 0 {
		return fmt.Errorf("CAPD_MAX_CONCURRENT_PUBLISHES: want a count, at least 0: %q", env("CAPD_MAX_CONCURRENT_PUBLISHES", ""))
	}
	fs.IntVar(&cfg.maxPublishes, "max-concurrent-publishes", publishes,
		"the publishes in flight at once, more are refused with a retry hint; 0 means twice the CPUs (env CAPD_MAX_CONCURRENT_PUBLISHES)")
	return nil
}

// Default request rates: a token's, and a client address's without one
// (a person browsing or an OCI client pulling a few bundles stays well
// under it; a crawler does not).
const (
	defaultRateLimit          = 100
	defaultAnonymousRateLimit = 20
)

// scopeList is a repeatable --scope flag.
type scopeList []string

func (s *scopeList) String() string { return strings.Join(*s, ",") }

// Set adds one scope. It fails for a scope the token file would refuse.
func (s *scopeList) Set(v string) error {
	if err := auth.ValidateScope(v); err != nil {
		return err
	}
	*s = append(*s, v)
	return nil
}

// tokenCreateFlags declares the flags of `capd token create`.
func tokenCreateFlags(fs *flag.FlagSet, cfg *config, env func(name, def string) string) {
	fs.StringVar(&cfg.tokenName, "name", "", "the token's name, which logs show (required)")
	fs.Var(&cfg.tokenScopes, "scope", "a scope of the token, repeatable: read, publish:<namespace>, publish:* or admin (at least one)")
	fs.StringVar(&cfg.tokens, "file", env("CAPD_TOKENS", ""), "the token file to add the token's hash to, created if missing (env CAPD_TOKENS)")
}

// checkTokenCreate fails when `capd token create` misses a flag.
func checkTokenCreate(cfg config) error {
	switch {
	case cfg.tokenName == "":
		return errors.New("token create: --name is required")
	case len(cfg.tokenScopes) == 0:
		return errors.New("token create: at least one --scope is required")
	case cfg.tokens == "":
		return errors.New("token create: --file (or CAPD_TOKENS) is required")
	}
	return nil
}

// createToken makes a token, adds its hash to the token file (created
// with mode 0600 if missing, replaced atomically) and prints the token,
// once, on stdout. It fails when the file is not a valid token file,
// already has a token of that name, or cannot be written; the file is
// then unchanged and nothing is printed.
func createToken(cfg config, stdout io.Writer) error {
	old, err := os.ReadFile(cfg.tokens)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("token file: %w", err)
	}
	token, err := auth.NewToken()
	if err != nil {
		return err
	}
	data, err := auth.AddToken(old, auth.Entry{Name: cfg.tokenName, SHA256: auth.Hash(token), Scopes: cfg.tokenScopes})
	if err != nil {
		return fmt.Errorf("token file %s: %w", cfg.tokens, err)
	}
	if err := writeFileAtomic(cfg.tokens, data, 0o600); err != nil {
		return fmt.Errorf("token file: %w", err)
	}
	_, err = fmt.Fprintln(stdout, token)
	return err
}

// writeFileAtomic replaces path with data: a temporary file in the same
// folder, synced, then renamed over it, so a reader sees the old file or
// the new one, never a part.
func writeFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// loadTokens reads the token file cfg names, which reloadTokens reads
// again; nil without one. It fails when the file cannot be read or is not
// a valid token file.
func loadTokens(cfg config, log *slog.Logger) (*auth.Reloader, error) {
	if cfg.tokens == "" {
		return nil, nil
	}
	tokens, err := auth.NewReloader(cfg.tokens)
	if err != nil {
		return nil, fmt.Errorf("--tokens: %w", err)
	}
	if cfg.allowDelete {
		log.Warn("--allow-delete is ignored with --tokens: deleting capability versions needs a token with the admin scope")
	}
	log.Info("authentication on", "tokens", tokens.Tokens().Len(), "anonymous_read", cfg.anonymousRead)
	return tokens, nil
}

// reloadTokens reads the token file of tokens again each time hup
// receives, until hup is closed, and logs how it went: the number of
// tokens now in use, or why the file was refused (naming the file and
// the line) and the tokens read before kept. It never logs a token or a
// hash.
func reloadTokens(hup <-chan os.Signal, tokens *auth.Reloader, log *slog.Logger) {
	for range hup {
		t, err := tokens.Reload()
		if err != nil {
			log.Error("token file not reloaded", "error", err)
			continue
		}
		log.Info("token file reloaded", "file", tokens.Path(), "tokens", t.Len())
	}
}
