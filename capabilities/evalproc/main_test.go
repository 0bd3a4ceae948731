package evalproc_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"

	"github.com/capcenter/capcenter/capabilities/evalproc"
)

// workerEnv, set to 1, makes the test binary a worker: TestMain serves
// the protocol on stdin and stdout instead of running tests, so that the
// pools under test start real processes of this very binary.
const workerEnv = "EVALPROC_TEST_WORKER"

func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) == "1" {
		if err := evalproc.Serve(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// newPool returns a pool of this test binary's workers, closed when the
// test ends. cfg's Command and Env are filled in.
func newPool(t testing.TB, cfg evalproc.Config) *evalproc.Pool {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Command = []string{exe}
	cfg.Env = append(os.Environ(), workerEnv+"=1")
	p, err := evalproc.NewPool(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// logRecord is one line a pool logged: its message and attributes as text.
type logRecord struct {
	msg   string
	attrs map[string]string
}

// recorder is a slog.Handler that keeps every record, for tests that
// look for a worker's pid.
type recorder struct {
	mu      sync.Mutex
	records []logRecord
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	attrs := map[string]string{}
	rec.Attrs(func(a slog.Attr) bool {
		attrs[a.Key] = a.Value.String()
		return true
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, logRecord{rec.Message, attrs})
	return nil
}

func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

// find returns the attributes of the records with message msg, in order.
func (r *recorder) find(msg string) []map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]string
	for _, rec := range r.records {
		if rec.msg == msg {
			out = append(out, rec.attrs)
		}
	}
	return out
}
