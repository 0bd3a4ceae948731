package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strconv"

	"github.com/capcenter/capcenter/capabilities/evalproc"
)

// evalWorkerCommand is the hidden sub-command capd starts its evaluation
// workers with: it serves evalproc's protocol on stdin and stdout.
const evalWorkerCommand = "eval-worker"

// evalWorker is `capd eval-worker`: it serves the requests of capd's
// evaluation pool, read from this process's stdin, on stdout (see
// evalproc.Serve), until stdin ends.
func evalWorker(stdout io.Writer) error {
	return evalproc.Serve(os.Stdin, stdout)
}

// evalFlags declares the flags of the evaluation workers.
func evalFlags(fs *flag.FlagSet, cfg *config, env func(name, def string) string) error {
	workers, err := strconv.Atoi(env("CAPD_EVAL_WORKERS", strconv.Itoa(runtime.GOMAXPROCS(0))))
	if err != nil || workers < 0 {
		return errors.New("CAPD_EVAL_WORKERS: want a number of workers, 0 or more")
	}
	fs.IntVar(&cfg.evalWorkers, "eval-workers", workers,
		"how many CUE evaluations run at once, each in a worker process killed when it passes its time bound; 0 evaluates in capd's own process, without that isolation (env CAPD_EVAL_WORKERS)")
	cfg.evalMemory = evalproc.DefaultMemoryLimit
	if err := cfg.evalMemory.Set(env("CAPD_EVAL_MEMORY", cfg.evalMemory.String())); err != nil {
		return fmt.Errorf("CAPD_EVAL_MEMORY: %w", err)
	}
	fs.Var(&cfg.evalMemory, "eval-memory",
		"the memory each evaluation worker may take, e.g. 2GiB: a template needing more is refused (env CAPD_EVAL_MEMORY)")
	return nil
}

// evalPool returns the pool of cfg.evalWorkers evaluation workers, each
// capd's own executable run as `capd eval-worker`; run calls it unless
// cfg.evalWorkers is 0 (evaluate in process). It fails when
// cfg.evalWorkers is negative or capd cannot find its executable.
func evalPool(cfg config, log *slog.Logger) (*evalproc.Pool, error) {
	if cfg.evalWorkers < 0 {
		return nil, errors.New("--eval-workers: want 0 or more")
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("evaluation workers: %w", err)
	}
	return evalproc.NewPool(evalproc.Config{
		Command: []string{exe, evalWorkerCommand}, Workers: cfg.evalWorkers,
		MemoryLimit: int64(cfg.evalMemory), Logger: log,
	})
}
