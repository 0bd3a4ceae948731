// Package evalproc runs the CUE evaluations of package capabilities in
// worker processes that can be killed: a [Pool] is a
// capabilities.Evaluator, set as capabilities.Limits.Evaluator, and
// [Serve] is the loop of a worker (capd runs it as its hidden
// `capd eval-worker` sub-command).
//
// CUE cannot be interrupted. In process, an evaluation past its time
// bound is abandoned but runs on, holding a CPU for hours or allocating
// until the Go runtime kills the whole server with "fatal error: out of
// memory". In a worker, the same evaluation costs one process: the pool
// kills it with SIGKILL when the bound passes or the caller goes away,
// waits until it is reaped, and only then frees its slot, so that
// Config.Workers bounds the evaluations really running. A worker caps its
// own memory before it evaluates anything (RLIMIT_AS on Linux: see Serve),
// so an evaluation that needs too much dies at once, alone, and is
// reported as too large instead of taking the server with it. Workers are
// reused from one evaluation to the next, and started lazily: a killed
// or dead one is replaced when next needed.
//
// The package sits beside capabilities, not in server, because it is the
// evaluation seam's other side: it knows the capabilities wire types and
// nothing of gRPC, and the server only passes the Limits it was given.
//
// # Protocol
//
// The pool talks to a worker over its stdin and stdout in frames: a
// 4-byte big-endian length, then that many bytes of JSON (numbers in
// untyped places decoded as json.Number, as the capabilities package keeps
// them). Frames are bounded by [MaxFrameSize] on both sides, checked
// before they are read or written. The pool sends a hello with the memory
// limit; the worker answers ready once the limit is set. Then each request
// (a capabilities.CheckRequest or RenderRequest) gets one response: the
// result, or the error as data: a *capabilities.ValidationError with its
// problems (files, lines, columns) intact, or the message and the
// sentinel the error wrapped, so that errors.Is answers alike on both
// sides. A worker exits when its stdin ends; on Linux the kernel also
// kills it when its parent dies (Pdeathsig).
//
// # Errors
//
// Besides the evaluation's own errors, a call fails with an error wrapping
// capabilities.ErrTimeout when its bound passes (with the same text as in
// process), with ctx's error when ctx ends first, with
// capabilities.ErrTooLarge when the worker ran out of memory (its stderr
// says "out of memory") or its result is over MaxFrameSize, with
// capabilities.ErrInvalid when the worker died otherwise during the
// evaluation (as a panic in CUE does in process), with [ErrClosed] after
// Close, and with a plain error when no worker can be started. The
// workers' stderr goes to Config.Logger, bounded to its first few
// kilobytes a worker.
//
// # Caveats
//
// A worker's time bound starts once it is ready: starting a process is
// not charged to the evaluation. The memory cap counts address space, not
// resident memory, so it is looser than it reads by whatever the Go
// runtime reserves without using; it is a hard cap on Linux only. Workers
// run with capd's user, filesystem and network: CUE's evaluator reaches
// neither, and the isolation is of time and memory, not a security
// sandbox.
package evalproc
