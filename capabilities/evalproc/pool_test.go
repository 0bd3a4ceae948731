package evalproc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/capabilities/builtin"
	"github.com/capcenter/capcenter/capabilities/evalproc"
)

// Templates that misbehave.
const (
	// listExplosion makes 10^9 list elements: it runs for hours.
	listExplosion = `import "list"

bomb: type: "component"
template: {
	_r: list.Range(0, 1000, 1)
	_cells: [for a in _r for b in _r for c in _r {a}]
	output: {apiVersion: "v1", kind: "ConfigMap", data: n: "\(len(_cells))"}
	parameter: {}
}
`
	// stringExplosion makes a 1 TB string, 1 GB at a time.
	stringExplosion = `import "strings"

bomb: type: "component"
template: {
	_mb: strings.Repeat("x", 1000000)
	_gb: strings.Repeat(_mb, 1000)
	_tb: strings.Repeat(_gb, 1000)
	output: {apiVersion: "v1", kind: "ConfigMap", data: n: "\(len(_tb))"}
	parameter: {}
}
`
	// slowWithParameter is quick by default and runs for hours with
	// n: 1000.
	slowWithParameter = `import "list"

slow: type: "component"
template: {
	_cells: [for a in list.Range(0, parameter.n, 1) for b in list.Range(0, parameter.n, 1) for c in list.Range(0, parameter.n, 1) {a}]
	output: {apiVersion: "v1", kind: "ConfigMap", metadata: name: context.name, data: n: "\(len(_cells))"}
	parameter: n: *2 | int
}
`
	// broken has a problem on a known line, and one without.
	broken = `tiny: type: "component"
template: {
	parameter: replicas: int & "three"
}
`
	// small checks quickly, for the request after a failure.
	small = `small: type: "component"
template: {
	output: {apiVersion: "v1", kind: "ConfigMap", metadata: name: context.name, data: v: parameter.v}
	parameter: v: *"x" | string
}
`
)

// loadBuiltin loads a built-in bundle with lim.
func loadBuiltin(t testing.TB, name string, lim capabilities.Limits) *capabilities.Bundle {
	t.Helper()
	sub, err := fs.Sub(builtin.FS(), name)
	if err != nil {
		t.Fatal(err)
	}
	b, err := capabilities.LoadFS(t.Context(), sub, lim)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return b
}

// TestSameAsInProcess loads every built-in bundle, which checks its
// template and renders its examples, through a pool and in process, and
// renders each example both ways: the results must be equal.
func TestSameAsInProcess(t *testing.T) {
	t.Parallel()
	pool := newPool(t, evalproc.Config{Workers: 2})
	for _, name := range builtin.Names() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			local := loadBuiltin(t, name, capabilities.Limits{})
			remote := loadBuiltin(t, name, capabilities.Limits{Evaluator: pool})
			if !reflect.DeepEqual(local, remote) {
				l, r := *local.Definition, *remote.Definition
				l.Template, r.Template = "", ""
				t.Fatalf("bundles differ (templates equal: %v):\nin process   %#v\nthrough pool %#v",
					local.Definition.Template == remote.Definition.Template, l, r)
			}
			// The config blob, parameter schema included, must pack to the
			// same bytes: a server checking through a pool compares it
			// with what a client packed in process.
			lc, err := local.Config()
			if err != nil {
				t.Fatal(err)
			}
			rc, err := remote.Config()
			if err != nil {
				t.Fatal(err)
			}
			if lj, rj := mustJSON(t, lc), mustJSON(t, rc); !bytes.Equal(lj, rj) {
				t.Fatalf("configs differ:\nin process   %s\nthrough pool %s", lj, rj)
			}
			for _, ex := range local.Examples {
				params, err := local.Example(ex.Name)
				if err != nil {
					t.Fatal(err)
				}
				want, err := local.Render(t.Context(), capabilities.RenderOptions{Parameters: params})
				if err != nil {
					t.Fatalf("%s in process: %v", ex.Name, err)
				}
				got, err := remote.Render(t.Context(), capabilities.RenderOptions{Parameters: params, Limits: capabilities.Limits{Evaluator: pool}})
				if err != nil {
					t.Fatalf("%s through pool: %v", ex.Name, err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s: renders differ:\nin process %v\nthrough pool %v", ex.Name, want, got)
				}
			}
		})
	}
}

// TestProblemsIntact checks that problems cross the process boundary
// with their files, lines, columns and text, and errors with their
// sentinels.
func TestProblemsIntact(t *testing.T) {
	t.Parallel()
	pool := newPool(t, evalproc.Config{Workers: 1})
	var local capabilities.InProcess
	for _, src := range []string{broken, "x: {", "template: {}\n", small} {
		req := capabilities.CheckRequest{File: "template.cue", Source: []byte(src), Timeout: time.Minute}
		want, err := local.Check(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := pool.Check(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("check of %q:\nin process %+v\nthrough pool %+v", src, want, got)
		}
	}
	if res, _ := pool.Check(t.Context(), capabilities.CheckRequest{File: "template.cue", Source: []byte(broken)}); len(res.Problems) == 0 || res.Problems[0].Line == 0 {
		t.Errorf("problems of broken: %+v, want one with a line", res.Problems)
	}

	web := loadBuiltin(t, "webservice", capabilities.Limits{})
	for _, params := range []map[string]any{
		{"image": 3, "nope": true},
		{"image": "nginx", "port": "eighty"},
		{},
	} {
		_, want := web.Render(t.Context(), capabilities.RenderOptions{Parameters: params})
		_, got := web.Render(t.Context(), capabilities.RenderOptions{Parameters: params, Limits: capabilities.Limits{Evaluator: pool}})
		var wantVE, gotVE *capabilities.ValidationError
		if !errors.As(want, &wantVE) || !errors.As(got, &gotVE) {
			t.Fatalf("params %v: errors %v and %v, want validation errors", params, want, got)
		}
		if !reflect.DeepEqual(gotVE, wantVE) || got.Error() != want.Error() || !errors.Is(got, capabilities.ErrInvalid) {
			t.Errorf("params %v:\nin process %v\nthrough pool %v", params, want, got)
		}
	}
}

// check checks src through pool with timeout.
func check(ctx context.Context, pool *evalproc.Pool, src string, timeout time.Duration) (*capabilities.CheckResult, error) {
	return pool.Check(ctx, capabilities.CheckRequest{File: "template.cue", Source: []byte(src), Timeout: timeout})
}

// mustWork checks that pool still evaluates: a fresh worker after a
// failure.
func mustWork(t *testing.T, pool *evalproc.Pool) {
	t.Helper()
	res, err := check(t.Context(), pool, small, time.Minute)
	if err != nil || len(res.Problems) > 0 || res.Definition == nil {
		t.Fatalf("after the failure: %v, %+v", err, res)
	}
}

// gone reports whether process pid has ended (and been reaped).
func gone(t *testing.T, pid int) bool {
	t.Helper()
	p, err := os.FindProcess(pid)
	if err != nil {
		return true
	}
	return errors.Is(p.Signal(syscall.Signal(0)), os.ErrProcessDone)
}

// pidOf returns the pid a record logged.
func pidOf(t *testing.T, attrs map[string]string) int {
	t.Helper()
	pid, err := strconv.Atoi(attrs["pid"])
	if err != nil {
		t.Fatalf("no pid in %v", attrs)
	}
	return pid
}

func TestTimeoutKillsWorker(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	pool := newPool(t, evalproc.Config{Workers: 1, Logger: slog.New(rec)})
	start := time.Now()
	_, err := check(t.Context(), pool, listExplosion, 500*time.Millisecond)
	took := time.Since(start)
	if !errors.Is(err, capabilities.ErrTimeout) || err.Error() != "template: evaluation timed out after 500ms" {
		t.Fatalf("got %v, want the in-process timeout error", err)
	}
	if took > 5*time.Second {
		t.Errorf("answered after %v", took)
	}
	killed := rec.find("eval worker killed")
	if len(killed) != 1 || !gone(t, pidOf(t, killed[0])) {
		t.Fatalf("killed workers %v: want one, gone", killed)
	}
	mustWork(t, pool)

	// Bundle.Render goes through the pool too: a render that runs long
	// has its worker killed.
	lim := capabilities.Limits{Evaluator: pool, EvalTimeout: 500 * time.Millisecond}
	b, err := capabilities.FromFiles(t.Context(), []capabilities.File{
		{Name: capabilities.MetadataFile, Data: []byte("name: slow\nversion: 1.0.0\nkind: component\ndescription: d\n")},
		{Name: capabilities.TemplateFile, Data: []byte(slowWithParameter)},
	}, lim)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Render(t.Context(), capabilities.RenderOptions{Parameters: map[string]any{"n": 1000}, Limits: lim})
	if !errors.Is(err, capabilities.ErrTimeout) {
		t.Fatalf("slow render: %v, want ErrTimeout", err)
	}
	if killed := rec.find("eval worker killed"); len(killed) != 2 {
		t.Errorf("killed workers %v: want a second one, the render's", killed)
	}
	mustWork(t, pool)
}

func TestMemoryBomb(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	pool := newPool(t, evalproc.Config{Workers: 1, MemoryLimit: 256 << 20, Logger: slog.New(rec)})
	start := time.Now()
	_, err := check(t.Context(), pool, stringExplosion, time.Minute)
	if !errors.Is(err, capabilities.ErrTooLarge) || !strings.Contains(err.Error(), "256 MiB") {
		t.Fatalf("got %v, want ErrTooLarge naming the limit (logged %v)", err, rec.find("eval worker died"))
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("answered after %v", took)
	}
	died := rec.find("eval worker died")
	if len(died) != 1 || !strings.Contains(died[0]["stderr"], "fatal error: ") {
		t.Errorf("logged %v, want the worker's death with its stderr", died)
	}
	mustWork(t, pool)

	// Through the capabilities package, the problem names template.cue.
	files := []capabilities.File{
		{Name: capabilities.MetadataFile, Data: []byte("name: bomb\nversion: 1.0.0\nkind: component\ndescription: d\n")},
		{Name: capabilities.TemplateFile, Data: []byte(stringExplosion)},
	}
	_, err = capabilities.FromFiles(t.Context(), files, capabilities.Limits{Evaluator: pool})
	if !errors.Is(err, capabilities.ErrInvalid) || !strings.Contains(err.Error(), "template.cue: template: evaluation exceeds limit") {
		t.Errorf("FromFiles: %v, want a template.cue problem", err)
	}
}

func TestCancelKillsWorker(t *testing.T) {
	t.Parallel()
	pool := newPool(t, evalproc.Config{Workers: 1})
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	_, err := check(ctx, pool, listExplosion, time.Minute)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("answered after %v", took)
	}
	mustWork(t, pool)
}

// TestBound checks that a runaway evaluation holds its slot until its
// worker is dead: with one worker, a second call waits for the first to
// be killed.
func TestBound(t *testing.T) {
	t.Parallel()
	pool := newPool(t, evalproc.Config{Workers: 1})
	mustWork(t, pool) // the worker is started: the times below are evaluation
	const bound = 1500 * time.Millisecond
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := check(t.Context(), pool, listExplosion, bound); !errors.Is(err, capabilities.ErrTimeout) {
			t.Errorf("runaway: %v", err)
		}
	})
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	mustWork(t, pool)
	if waited := time.Since(start); waited < bound-300*time.Millisecond {
		t.Errorf("second evaluation done after %v: it did not wait for the runaway's slot", waited)
	}
	wg.Wait()
}

// TestWorkerCrash kills a worker in the middle of an evaluation, from
// outside: the call fails as a panic in CUE does, and the pool goes on.
func TestWorkerCrash(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	pool := newPool(t, evalproc.Config{Workers: 1, Logger: slog.New(rec)})
	mustWork(t, pool)
	started := rec.find("eval worker started")
	if len(started) != 1 {
		t.Fatalf("started %v, want one worker", started)
	}
	pid := pidOf(t, started[0])
	worker, err := os.FindProcess(pid)
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(300*time.Millisecond, func() { _ = worker.Kill() })
	_, err = check(t.Context(), pool, listExplosion, time.Minute)
	if !errors.Is(err, capabilities.ErrInvalid) || !strings.Contains(err.Error(), "evaluation failed") {
		t.Fatalf("got %v, want ErrInvalid saying the evaluation failed", err)
	}
	mustWork(t, pool)
}

func TestClosed(t *testing.T) {
	t.Parallel()
	pool := newPool(t, evalproc.Config{Workers: 1})
	mustWork(t, pool)
	if err := pool.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := check(t.Context(), pool, small, time.Minute); !errors.Is(err, evalproc.ErrClosed) {
		t.Fatalf("after Close: %v, want ErrClosed", err)
	}
}

func TestNewPool(t *testing.T) {
	t.Parallel()
	for _, cfg := range []evalproc.Config{{}, {Command: []string{""}}, {Command: []string{"x"}, Workers: -1}} {
		if _, err := evalproc.NewPool(cfg); err == nil {
			t.Errorf("NewPool(%+v) succeeded", cfg)
		}
	}
	pool, err := evalproc.NewPool(evalproc.Config{Command: []string{"/nonexistent/worker"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := check(t.Context(), pool, small, time.Minute); err == nil || errors.Is(err, capabilities.ErrInvalid) {
		t.Fatalf("with no worker program: %v, want a plain error", err)
	}
}

// TestTraitWorkloads renders a trait against no workload (the sample
// one), an empty one and a given one, both ways: nil and empty must not
// be confused on the way to a worker.
func TestTraitWorkloads(t *testing.T) {
	t.Parallel()
	pool := newPool(t, evalproc.Config{Workers: 1})
	scaler := loadBuiltin(t, "scaler", capabilities.Limits{})
	params, err := scaler.Example("basic")
	if err != nil {
		t.Fatal(err)
	}
	deployment := capabilities.SampleWorkload("other")
	for _, w := range []capabilities.Object{nil, {}, deployment} {
		opts := capabilities.RenderOptions{Parameters: params, Workload: w, WorkloadOutputs: map[string]capabilities.Object{}}
		want, wantErr := scaler.Render(t.Context(), opts)
		opts.Limits.Evaluator = pool
		got, gotErr := scaler.Render(t.Context(), opts)
		if !reflect.DeepEqual(got, want) || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Errorf("workload %v:\nin process %v, %v\nthrough pool %v, %v", w, want, wantErr, got, gotErr)
		}
	}
}

// mustJSON is v as JSON.
func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
