package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"oras.land/oras-go/v2/content/memory"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/capabilities/builtin"
	capcenterv1 "github.com/capcenter/capcenter/proto/capcenter/v1"
	"github.com/capcenter/capcenter/server"
	"github.com/capcenter/capcenter/store"
	"github.com/capcenter/capcenter/store/embedded"
)

// parseCase is one command line for parseArgs: with env, it parses to a
// config want accepts, or fails with an error (or usage) mentioning
// wantErr.
type parseCase struct {
	name    string
	args    []string
	env     map[string]string
	want    func(config) bool
	wantErr string
}

// runParseCases runs each case as a parallel subtest.
func runParseCases(t *testing.T, tests []parseCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			cfg, err := parseArgs(tt.args, func(k string) string { return tt.env[k] }, &out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error()+out.String(), tt.wantErr) {
					t.Fatalf("parseArgs = %v (%s); want an error about %s", err, out.String(), tt.wantErr)
				}
				return
			}
			if err != nil || !tt.want(cfg) {
				t.Fatalf("parseArgs = %+v, %v", cfg, err)
			}
		})
	}
}

func TestParseArgs(t *testing.T) {
	t.Parallel()
	tests := []parseCase{
		{"defaults", nil, nil, func(c config) bool {
			return c.command == "serve" && c.data == "./data" && c.grpcAddr == "127.0.0.1:9460" &&
				c.httpAddr == "127.0.0.1:9461" && !c.seedBuiltin && c.logLevel == slog.LevelInfo &&
				c.maxBundleSize == capabilities.DefaultMaxBundleSize
		}, ""},
		{"flags", []string{"--data", "/d", "--grpc-addr", ":0", "--seed-builtin", "--log-level", "debug", "--max-bundle-size", "2MiB"}, nil,
			func(c config) bool {
				return c.data == "/d" && c.grpcAddr == ":0" && c.seedBuiltin && c.logLevel == slog.LevelDebug && c.maxBundleSize == 2<<20
			}, ""},
		{"env", nil, map[string]string{"CAPD_DATA": "/e", "CAPD_HTTP_ADDR": ":1", "CAPD_SEED_BUILTIN": "true", "CAPD_MAX_BUNDLE_SIZE": "1000"},
			func(c config) bool {
				return c.data == "/e" && c.httpAddr == ":1" && c.seedBuiltin && c.maxBundleSize == 1000
			}, ""},
		{"flags over env", []string{"--data", "/f"}, map[string]string{"CAPD_DATA": "/e"},
			func(c config) bool { return c.data == "/f" }, ""},
		{"reindex", []string{"reindex", "--data", "/r"}, nil,
			func(c config) bool { return c.command == "reindex" && c.data == "/r" }, ""},
		{"reindex takes no addresses", []string{"reindex", "--grpc-addr", ":0"}, nil, nil, "grpc-addr"},
		{"reindex trusting unsealed records", []string{"reindex", "--trust-unauthenticated-records"}, nil,
			func(c config) bool { return c.command == "reindex" && c.trustUnauthenticated }, ""},
		{"only reindex trusts unsealed records", []string{"--trust-unauthenticated-records"}, nil, nil, "trust-unauthenticated-records"},
		{"bad size", []string{"--max-bundle-size", "lots"}, nil, nil, "positive size"},
		{"bad level", nil, map[string]string{"CAPD_LOG_LEVEL": "loud"}, nil, "CAPD_LOG_LEVEL"},
		{"stray argument", []string{"serve"}, nil, nil, "unexpected argument"},
		{"keys init", []string{"keys", "init", "--data", "/k"}, nil,
			func(c config) bool { return c.command == "keys" && c.keysAction == "init" && c.data == "/k" }, ""},
		{"keys rotate", []string{"keys", "rotate"}, nil,
			func(c config) bool { return c.command == "keys" && c.keysAction == "rotate" }, ""},
		{"keys without an action", []string{"keys"}, nil, nil, "capd keys init"},
		{"keys take no signing flags", []string{"keys", "init", "--signing-key", "k"}, nil, nil, "signing-key"},
		{"signing flags", []string{"--signing-key", "k.pem", "--signing-cert", "c.pem"}, nil,
			func(c config) bool { return c.signingKey == "k.pem" && c.signingCert == "c.pem" }, ""},
		{"signing env", nil, map[string]string{"CAPD_SIGNING_KEY": "k", "CAPD_SIGNING_CERT": "c"},
			func(c config) bool { return c.signingKey == "k" && c.signingCert == "c" }, ""},
	}
	runParseCases(t, tests)
}

func TestByteSizeString(t *testing.T) {
	t.Parallel()
	for in, want := range map[byteSize]string{64 << 20: "64MiB", 1 << 30: "1GiB", 1536: "1536", 3 << 10: "3KiB", 1000: "1000"} {
		if got := in.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int64(in), got, want)
		}
		var back byteSize
		if err := back.Set(want); err != nil || back != in {
			t.Errorf("Set(%q) = %d, %v", want, back, err)
		}
	}
}

// lines forwards what is written to it, line by line, to a channel.
func lines(t *testing.T) (io.Writer, <-chan string) {
	t.Helper()
	r, w := io.Pipe()
	ch := make(chan string, 64)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			ch <- sc.Text()
		}
	}()
	t.Cleanup(func() { _ = w.Close() })
	return w, ch
}

// next returns the next line, failing the test after a wait.
func next(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case l := <-ch:
		return l
	case <-time.After(3 * time.Minute):
		t.Fatal("no output from run")
		return ""
	}
}

// served is capd serving in the background for a test, with the three
// lines it printed first and its stderr.
type served struct {
	grpcAddr, httpURL, hint string
	logs                    *syncBuffer
	// stop cancels the run and returns its error; the end of the test
	// stops it too, failing the test on an error.
	stop func() error
}

// serveInBackground runs cfg, a serve, until stop or the end of the test.
// It fails t when the gRPC address, HTTP address and hint lines do not
// come, or when the run does not end within 30 s of stop.
func serveInBackground(t *testing.T, cfg config) *served {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	stdout, out := lines(t)
	s := &served{logs: new(syncBuffer)}
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, stdout, s.logs) }()
	var once sync.Once
	var err error
	s.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				err = errors.New("run did not return after cancel")
			}
		})
		return err
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("run after cancel = %v (logs: %s)", err, s.logs.String())
		}
	})
	var ok bool
	if s.grpcAddr, ok = strings.CutPrefix(next(t, out), "capd: grpc listening on "); !ok {
		t.Fatal("first line is not the gRPC address")
	}
	if s.httpURL, ok = strings.CutPrefix(next(t, out), "capd: http listening on "); !ok {
		t.Fatalf("second line is not the HTTP address: %q", s.httpURL)
	}
	s.hint = next(t, out)
	return s
}

func TestServe(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	cfg := config{
		command: "serve", data: t.TempDir(), grpcAddr: "127.0.0.1:0", httpAddr: "127.0.0.1:0",
		seedBuiltin: true, logLevel: slog.LevelWarn, shutdownTimeout: 5 * time.Second,
	}
	s := serveInBackground(t, cfg)
	grpcAddr, httpURL := s.grpcAddr, s.httpURL
	if !strings.HasPrefix(httpURL, "http://127.0.0.1:") {
		t.Errorf("HTTP address %q", httpURL)
	}
	if !strings.Contains(s.hint, "capctl --server "+grpcAddr) {
		t.Errorf("hint line = %q", s.hint)
	}

	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, httpURL+"/v1/capabilities/webservice", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"latestVersion":"1.0.0"`) {
		t.Errorf("GET webservice = %d %s", resp.StatusCode, body)
	}

	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	list, err := capcenterv1.NewCapabilityServiceClient(conn).ListCapabilities(ctx, &capcenterv1.ListCapabilitiesRequest{PageSize: 1000})
	if err != nil || int(list.GetTotalSize()) != len(builtin.Names()) {
		t.Errorf("ListCapabilities = %d capabilities, %v; want the %d built-ins", list.GetTotalSize(), err, len(builtin.Names()))
	}
	ws, err := capcenterv1.NewCapabilityServiceClient(conn).GetVersion(ctx, &capcenterv1.GetVersionRequest{Name: "capabilities/webservice/versions/latest"})
	if err != nil || len(ws.GetSignatures()) != 1 || ws.GetSignatures()[0].GetRole() != capcenterv1.SignatureRole_SIGNATURE_ROLE_SERVER {
		t.Errorf("the seeded webservice has signatures %v (%v); want one by capd", ws.GetSignatures(), err)
	}
	if _, err := os.Stat(filepath.Join(cfg.data, "keys", "signing.key")); err != nil {
		t.Errorf("capd without a configured key did not create one: %v", err)
	}
	health, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || health.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health = %v, %v", health, err)
	}
	if err := s.stop(); err != nil {
		t.Fatalf("run after cancel = %v; want a clean exit (logs: %s)", err, s.logs.String())
	}
}

func TestReindex(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st, err := embedded.Open(dir, embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bundles, err := builtin.Load(t.Context(), capabilities.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.New()
	desc, err := capabilities.Pack(t.Context(), mem, bundles[0])
	if err != nil {
		t.Fatal(err)
	}
	v, err := server.Describe(t.Context(), mem, desc)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Publish(t.Context(), store.Publication{Manifest: desc, Content: mem, Version: v}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "index.db")); err != nil {
		t.Fatalf("remove the index: %v", err)
	}

	var stdout bytes.Buffer
	cfg, err := parseArgs([]string{"reindex", "--data", dir}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := run(t.Context(), cfg, &stdout, io.Discard); err != nil {
		t.Fatalf("reindex: %v", err)
	}
	if want := "capd: reindexed " + dir + ": 1 capabilities; 0 unauthenticated records and 0 unrecorded referrers ignored\n"; stdout.String() != want {
		t.Errorf("output = %q, want %q", stdout.String(), want)
	}
	st, err = embedded.Open(dir, embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got, err := st.GetVersion(t.Context(), v.Name, "latest")
	if err != nil || got.Digest != desc.Digest.String() {
		t.Fatalf("after reindex GetVersion = %+v, %v", got, err)
	}
}
