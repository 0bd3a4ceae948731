package evalproc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/capcenter/capcenter/capabilities"
)

// DefaultMemoryLimit is the memory a worker may take for its evaluations
// when Config.MemoryLimit is zero.
const DefaultMemoryLimit = 2 << 30

// Bounds of a worker's life outside evaluations.
const (
	// startTimeout bounds how long a new worker may take to answer the
	// hello; it is not part of any evaluation's time.
	startTimeout = 10 * time.Second
	// stopGrace is how long a worker told to stop may take to exit.
	stopGrace = 2 * time.Second
)

// ErrClosed is returned by a Pool's methods once Close was called.
var ErrClosed = errors.New("evaluation pool closed")

// Config is what a Pool needs. Command is required; every other zero
// field takes a default.
type Config struct {
	// Command is the worker program and its arguments, e.g. capd's own
	// executable and "eval-worker": a program whose main calls Serve on
	// its stdin and stdout.
	Command []string
	// Env is the workers' environment; nil inherits this process's.
	Env []string
	// Workers bounds the evaluations running at once, and so the worker
	// processes; the default is GOMAXPROCS.
	Workers int
	// MemoryLimit is how much memory, in bytes, each worker may take
	// beyond what it holds when it starts (on Linux a hard RLIMIT_AS; see
	// Serve); the default is DefaultMemoryLimit, a negative value sets no
	// limit.
	MemoryLimit int64
	// Logger receives the workers' starts, kills and deaths, with the
	// first bytes of their stderr; nil discards.
	Logger *slog.Logger
}

// A Pool is a capabilities.Evaluator that runs every evaluation in a
// worker process, reused from one evaluation to the next. An evaluation
// past its time bound, or whose ctx ends, has its worker killed
// (SIGKILL) and reaped before the call returns; a new one is started when
// next needed. It is safe for concurrent use.
type Pool struct {
	command []string
	env     []string
	memory  int64
	log     *slog.Logger
	// slots holds a token for each evaluation running: its capacity is
	// Workers. A token is given back only once the worker is idle again or
	// dead, so that runaway evaluations count against the bound.
	slots chan struct{}

	mu     sync.Mutex
	idle   []*worker
	closed bool
}

var _ capabilities.Evaluator = (*Pool)(nil)

// NewPool checks cfg and returns a Pool with no worker started yet. It
// fails when cfg.Command is empty or Workers is negative.
func NewPool(cfg Config) (*Pool, error) {
	if len(cfg.Command) == 0 || cfg.Command[0] == "" {
		return nil, errors.New("evalproc: Config.Command is required")
	}
	if cfg.Workers < 0 {
		return nil, errors.New("evalproc: negative Config.Workers")
	}
	workers := cfg.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	memory := cfg.MemoryLimit
	switch {
	case memory == 0:
		memory = DefaultMemoryLimit
	case memory < 0:
		memory = 0
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Pool{command: cfg.Command, env: cfg.Env, memory: memory, log: log, slots: make(chan struct{}, workers)}, nil
}

// Check checks req.Source in a worker. It fails with ctx's error, with an
// error wrapping capabilities.ErrTimeout past req.Timeout,
// capabilities.ErrTooLarge when the worker runs out of memory,
// capabilities.ErrInvalid when it dies otherwise, ErrClosed after Close,
// and with a plain error when no worker can be started.
func (p *Pool) Check(ctx context.Context, req capabilities.CheckRequest) (*capabilities.CheckResult, error) {
	resp, err := p.do(ctx, req.Timeout, &request{Check: &req})
	if err != nil {
		return nil, err
	}
	if resp.Check == nil {
		return nil, errors.New("evalproc: a worker answered a check without its result")
	}
	return resp.Check, nil
}

// Render renders req in a worker. It fails as capabilities.InProcess does
// (the problems of a *capabilities.ValidationError intact), and as Check
// does.
func (p *Pool) Render(ctx context.Context, req capabilities.RenderRequest) (*capabilities.Rendered, error) {
	resp, err := p.do(ctx, req.Timeout, &request{Render: &req})
	if err != nil {
		return nil, err
	}
	if resp.Rendered == nil {
		return nil, errors.New("evalproc: a worker answered a render without its result")
	}
	return resp.Rendered, nil
}

// Close stops the idle workers and makes later calls fail with ErrClosed;
// a worker busy now is stopped when its evaluation ends. It never fails.
func (p *Pool) Close() error {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, w := range idle {
		w.stop(stopGrace)
	}
	return nil
}

// do runs one request in a worker, holding a slot until that worker is
// idle or dead.
func (p *Pool) do(ctx context.Context, timeout time.Duration, req *request) (*response, error) {
	if err := ctx.Err(); err != nil {
		return nil, err // start no evaluation for a context already done
	}
	frame, err := json.Marshal(req)
	if err != nil { // parameters JSON cannot hold, as in process
		return nil, fmt.Errorf("request: %w: %w", capabilities.ErrInvalid, err)
	}
	if len(frame) > MaxFrameSize {
		return nil, fmt.Errorf("request: %d bytes, more than %d: %w", len(frame), MaxFrameSize, capabilities.ErrTooLarge)
	}
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-p.slots }()
	w, err := p.take(ctx)
	if err != nil {
		return nil, err
	}
	data, err := w.call(ctx, timeout, frame)
	if err != nil {
		return nil, p.lost(w, err)
	}
	var resp response
	if err := decodeMessage(data, &resp); err != nil {
		w.kill()
		p.log.Error("eval worker answered garbage: killed it", "pid", w.pid(), "error", err)
		return nil, fmt.Errorf("evalproc: %w", err)
	}
	p.put(w)
	if resp.Error != nil {
		return nil, resp.Error.err()
	}
	return &resp, nil
}

// lost explains, logs and cleans up after a call that failed with err:
// the worker was killed (time, ctx) or the exchange broke. The worker is
// dead when it returns.
func (p *Pool) lost(w *worker, err error) error {
	if errors.Is(err, capabilities.ErrTimeout) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		p.log.Info("eval worker killed", "pid", w.pid(), "reason", err, "stderr", w.stderr.String())
		return err
	}
	failure := w.failure(err, p.memory)
	p.log.Warn("eval worker died", "pid", w.pid(), "state", w.cmd.ProcessState.String(), "error", err, "stderr", w.stderr.String())
	return failure
}

// take returns an idle worker, or a new one. It fails with ErrClosed, with
// ctx's error, or when a worker cannot be started or does not answer its
// hello within startTimeout.
func (p *Pool) take(ctx context.Context) (*worker, error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrClosed
		}
		var w *worker
		if n := len(p.idle); n > 0 {
			w, p.idle = p.idle[n-1], p.idle[:n-1]
		}
		p.mu.Unlock()
		if w == nil {
			return p.start(ctx)
		}
		if w.alive() {
			return w, nil
		}
		p.log.Warn("eval worker died while idle", "pid", w.pid(), "state", w.cmd.ProcessState.String(), "stderr", w.stderr.String())
		w.kill()
	}
}

// start starts a worker and has it set its limits.
func (p *Pool) start(ctx context.Context) (*worker, error) {
	w, err := startWorker(ctx, p.command, p.env)
	if err != nil {
		return nil, fmt.Errorf("evalproc: start worker: %w", err)
	}
	hi, err := json.Marshal(hello{MemoryLimit: p.memory})
	if err != nil {
		w.kill()
		return nil, err
	}
	data, err := w.call(ctx, startTimeout, hi)
	if err != nil {
		w.kill()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, capabilities.ErrTimeout) {
			err = fmt.Errorf("no answer to hello within %v", startTimeout)
		}
		p.log.Error("eval worker did not start", "pid", w.pid(), "error", err, "stderr", w.stderr.String())
		return nil, fmt.Errorf("evalproc: start worker: %w", err)
	}
	var r ready
	err = decodeMessage(data, &r)
	if err == nil && r.Error != "" {
		err = errors.New(r.Error)
	}
	if err != nil {
		w.kill()
		p.log.Error("eval worker did not start", "pid", w.pid(), "error", err, "stderr", w.stderr.String())
		return nil, fmt.Errorf("evalproc: start worker: %w", err)
	}
	p.log.Debug("eval worker started", "pid", w.pid(), "memoryLimit", p.memory)
	return w, nil
}

// put makes w idle again, or stops it when the pool is closed.
func (p *Pool) put(w *worker) {
	p.mu.Lock()
	closed := p.closed
	if !closed {
		p.idle = append(p.idle, w)
	}
	p.mu.Unlock()
	if closed {
		w.stop(stopGrace)
	}
}
