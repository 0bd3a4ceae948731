package server

import (
	"fmt"
	"os"
	"testing"

	"github.com/capcenter/capcenter/capabilities/evalproc"
)

// evalWorkerEnv, set to 1, makes the test binary an evaluation worker:
// TestMain serves evalproc's protocol on stdin and stdout instead of
// running tests, so that servers under test can evaluate CUE in real
// worker processes of this binary (see newEvalPool).
const evalWorkerEnv = "CAPCENTER_SERVER_TEST_EVAL_WORKER"

func TestMain(m *testing.M) {
	if os.Getenv(evalWorkerEnv) == "1" {
		if err := evalproc.Serve(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "eval worker:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// newEvalPool returns a pool of workers of this test binary, each
// limited to memoryLimit bytes, closed when the test ends.
func newEvalPool(t *testing.T, workers int, memoryLimit int64) *evalproc.Pool {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p, err := evalproc.NewPool(evalproc.Config{
		Command: []string{exe}, Env: append(os.Environ(), evalWorkerEnv+"=1"),
		Workers: workers, MemoryLimit: memoryLimit,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}
