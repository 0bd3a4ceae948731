package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/capcenter/capcenter/capabilities"
)

// config is what capd runs with: flags, each falling back to an
// environment variable, then to a default.
type config struct {
	// command is "serve", "reindex", "gc", "keys", "token" (create) or
	// "eval-worker" (hidden);
	// keysAction is "init" or "rotate".
	command         string
	keysAction      string
	data            string
	grpcAddr        string
	httpAddr        string
	seedBuiltin     bool
	logLevel        slog.Level
	maxBundleSize   byteSize
	shutdownTimeout time.Duration
	signingKey      string
	signingCert     string
	allowDelete     bool
	// tlsCert and tlsKey, both or neither, turn TLS on.
	tlsCert, tlsKey string
	// tokens is the token file (--tokens, or --file of token create);
	// anonymousRead lets reads through without a token.
	tokens        string
	anonymousRead bool
	// rateLimit is each token's requests a second (0: none),
	// anonymousRateLimit each client address's without a token;
	// maxPublishes the publishes in flight (0: the server's default).
	rateLimit          float64
	anonymousRateLimit float64
	maxPublishes       int
	// evalWorkers bounds the CUE evaluations, each in a worker process
	// (0: in capd's own); evalMemory is each worker's memory.
	evalWorkers int
	evalMemory  byteSize
	// trustUnauthenticated makes reindex apply records the store did not
	// seal (recovery of a folder without its record key).
	trustUnauthenticated bool
	// tokenName and tokenScopes describe the token `capd token create`
	// makes.
	tokenName   string
	tokenScopes scopeList
	// gc holds the flags of `capd gc`.
	gc gcOptions
}

// Defaults of the flags.
const (
	defaultData            = "./data"
	defaultGRPCAddr        = "127.0.0.1:9460"
	defaultHTTPAddr        = "127.0.0.1:9461"
	defaultShutdownTimeout = 10 * time.Second
)

// parseArgs reads the command line (without the program name), with getenv
// supplying the CAPD_* fallbacks; usage goes to out. It fails with
// flag.ErrHelp for -h, and with a message naming the flag or variable
// that is malformed.
func parseArgs(args []string, getenv func(string) string, out io.Writer) (config, error) {
	cfg := config{command: "serve", maxBundleSize: capabilities.DefaultMaxBundleSize}
	switch {
	case len(args) > 0 && args[0] == evalWorkerCommand:
		// Hidden: capd starts it itself, and it reads no flag or variable.
		if len(args) > 1 {
			return cfg, fmt.Errorf("%s takes no arguments", evalWorkerCommand)
		}
		return config{command: evalWorkerCommand}, nil
	case len(args) > 0 && args[0] == "reindex":
		cfg.command, args = "reindex", args[1:]
	case len(args) > 0 && args[0] == "gc":
		cfg.command, args = "gc", args[1:]
	case len(args) > 0 && args[0] == "keys":
		if len(args) < 2 || (args[1] != "init" && args[1] != "rotate") {
			return cfg, errors.New("keys: want `capd keys init` or `capd keys rotate`")
		}
		cfg.command, cfg.keysAction, args = "keys", args[1], args[2:]
	case len(args) > 0 && args[0] == "token":
		if len(args) < 2 || args[1] != "create" {
			return cfg, errors.New("token: want `capd token create --name NAME --scope SCOPE --file FILE`")
		}
		cfg.command, args = "token", args[2:]
	}
	title := cfg.command
	if cfg.keysAction != "" {
		title += " " + cfg.keysAction
	}
	if cfg.command == "token" {
		title += " create"
	}
	fs := flag.NewFlagSet("capd "+title, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(out, `Usage:
  capd [flags]                 serve the registry (gRPC, REST, downloads)
  capd reindex [--data DIR] [--trust-unauthenticated-records]
                               rebuild the index of DIR from its content
  capd gc [--data DIR] [--dry-run] [--grace 1h]
                               remove the content of DIR its index does not
                               reach (stop capd first: the index is locked)
  capd keys init [--data DIR]  create a local CA and signing key in DIR/keys
  capd keys rotate [--data DIR]
                               issue a new signing key from the local CA; the
                               old certificate stays published
  capd token create --name NAME --scope SCOPE [--scope SCOPE…] --file FILE
                               make a token, print it once, and add its
                               SHA-256 to the token file FILE

Flags of capd `+title+`:
`)
		fs.PrintDefaults()
	}
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	fs.StringVar(&cfg.data, "data", env("CAPD_DATA", defaultData), "the folder holding the store (env CAPD_DATA)")
	if err := cfg.maxBundleSize.Set(env("CAPD_MAX_BUNDLE_SIZE", cfg.maxBundleSize.String())); err != nil {
		return cfg, fmt.Errorf("CAPD_MAX_BUNDLE_SIZE: %w", err)
	}
	fs.Var(&cfg.maxBundleSize, "max-bundle-size", "the largest bundle accepted, e.g. 64MiB (env CAPD_MAX_BUNDLE_SIZE)")
	if err := cfg.logLevel.UnmarshalText([]byte(env("CAPD_LOG_LEVEL", "info"))); err != nil {
		return cfg, fmt.Errorf("CAPD_LOG_LEVEL: %w", err)
	}
	fs.TextVar(&cfg.logLevel, "log-level", cfg.logLevel, "debug, info, warn or error (env CAPD_LOG_LEVEL)")
	if cfg.command == "serve" {
		if err := serveFlags(fs, &cfg, env); err != nil {
			return cfg, err
		}
	}
	if cfg.command == "gc" {
		gcFlags(fs, &cfg.gc)
	}
	if cfg.command == "reindex" {
		fs.BoolVar(&cfg.trustUnauthenticated, "trust-unauthenticated-records", false,
			"recovery only: also apply records the store did not seal, for a folder that lost both index.db and record.key; anyone who could push a blob could have forged them")
	}
	if cfg.command == "token" {
		tokenCreateFlags(fs, &cfg, env)
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q (the sub-commands are reindex, gc, keys init, keys rotate and token create)", fs.Arg(0))
	}
	if err := checkTLS(cfg); err != nil {
		return cfg, err
	}
	if cfg.command == "token" {
		return cfg, checkTokenCreate(cfg)
	}
	return cfg, nil
}

// serveFlags declares the flags only serving takes.
func serveFlags(fs *flag.FlagSet, cfg *config, env func(name, def string) string) error {
	fs.StringVar(&cfg.grpcAddr, "grpc-addr", env("CAPD_GRPC_ADDR", defaultGRPCAddr), "the gRPC listen address; port 0 picks one (env CAPD_GRPC_ADDR)")
	fs.StringVar(&cfg.httpAddr, "http-addr", env("CAPD_HTTP_ADDR", defaultHTTPAddr), "the HTTP listen address; port 0 picks one (env CAPD_HTTP_ADDR)")
	seed, err := strconv.ParseBool(env("CAPD_SEED_BUILTIN", "false"))
	if err != nil {
		return fmt.Errorf("CAPD_SEED_BUILTIN: %w", err)
	}
	fs.BoolVar(&cfg.seedBuiltin, "seed-builtin", seed, "publish the built-in bundles missing from the store on start (env CAPD_SEED_BUILTIN)")
	allowDelete, err := strconv.ParseBool(env("CAPD_ALLOW_DELETE", "false"))
	if err != nil {
		return fmt.Errorf("CAPD_ALLOW_DELETE: %w", err)
	}
	fs.BoolVar(&cfg.allowDelete, "allow-delete", allowDelete,
		"without --tokens, let DELETE on /v2/ remove capability versions, which anyone reaching the HTTP port could then do; with --tokens it is ignored and deleting needs the admin scope (env CAPD_ALLOW_DELETE)")
	timeout, err := time.ParseDuration(env("CAPD_SHUTDOWN_TIMEOUT", defaultShutdownTimeout.String()))
	if err != nil {
		return fmt.Errorf("CAPD_SHUTDOWN_TIMEOUT: %w", err)
	}
	fs.DurationVar(&cfg.shutdownTimeout, "shutdown-timeout", timeout, "how long to let calls finish on shutdown (env CAPD_SHUTDOWN_TIMEOUT)")
	fs.StringVar(&cfg.signingKey, "signing-key", env("CAPD_SIGNING_KEY", ""),
		"the PEM private key to sign published versions with; default DATA/keys/signing.key, created on first start (env CAPD_SIGNING_KEY)")
	fs.StringVar(&cfg.signingCert, "signing-cert", env("CAPD_SIGNING_CERT", ""),
		"the PEM certificate chain of --signing-key, leaf first, ending with its root CA (env CAPD_SIGNING_CERT)")
	if err := evalFlags(fs, cfg, env); err != nil {
		return err
	}
	tlsFlags(fs, cfg, env)
	return tokenFlags(fs, cfg, env)
}

// byteSize is a flag holding a number of bytes, written plainly or with a
// unit: KiB, MiB, GiB, or KB, MB, GB.
type byteSize int64

var units = []struct {
	suffix string
	factor int64
}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}

// Set parses s. It fails for anything but a positive whole number with an
// optional unit.
func (b *byteSize) Set(s string) error {
	num, factor := strings.TrimSpace(s), int64(1)
	for _, u := range units {
		if n, ok := strings.CutSuffix(num, u.suffix); ok {
			num, factor = strings.TrimSpace(n), u.factor
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/factor {
		return errors.New("want a positive size in bytes, e.g. 67108864 or 64MiB")
	}
	*b = byteSize(n * factor)
	return nil
}

// String writes b with the largest binary unit that divides it.
func (b *byteSize) String() string {
	for _, u := range []int{2, 1, 0} { // GiB, MiB, KiB
		if f := units[u].factor; int64(*b) >= f && int64(*b)%f == 0 {
			return strconv.FormatInt(int64(*b)/f, 10) + units[u].suffix
		}
	}
	return strconv.FormatInt(int64(*b), 10)
}
