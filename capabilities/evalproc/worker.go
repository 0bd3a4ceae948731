package evalproc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/capcenter/capcenter/capabilities"
)

// stderrHead is how much of a worker's stderr is kept, from its start, for
// the log and to tell a worker that ran out of memory.
const stderrHead = 4 << 10

// worker is one child process and our ends of its stdin and stdout.
type worker struct {
	cmd    *exec.Cmd
	stdin  *os.File
	stdout *os.File
	stderr *headBuffer
	// exited is closed once the process has ended and been reaped.
	exited chan struct{}
}

// startWorker starts command with env. The worker outlives ctx, the
// context of the call that needed it: only the pool ends it. It fails
// when the pipes cannot be made or the program cannot be started; the
// hello is the pool's to send.
func startWorker(ctx context.Context, command, env []string) (*worker, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		_, _ = inR.Close(), inW.Close()
		return nil, err
	}
	w := &worker{stdin: inW, stdout: outR, stderr: &headBuffer{max: stderrHead}, exited: make(chan struct{})}
	w.cmd = exec.CommandContext(context.WithoutCancel(ctx), command[0], command[1:]...)
	w.cmd.Env, w.cmd.SysProcAttr = env, sysProcAttr()
	w.cmd.Stdin, w.cmd.Stdout, w.cmd.Stderr = inR, outW, w.stderr
	err = w.cmd.Start()
	_, _ = inR.Close(), outW.Close() // the child's ends: it has its own copies
	if err != nil {
		_, _ = inW.Close(), outR.Close()
		return nil, err
	}
	go func() {
		_ = w.cmd.Wait() // the state is in cmd.ProcessState
		close(w.exited)
	}()
	return w, nil
}

// pid is the worker's process id.
func (w *worker) pid() int { return w.cmd.Process.Pid }

// alive reports whether the process has not ended.
func (w *worker) alive() bool {
	select {
	case <-w.exited:
		return false
	default:
		return true
	}
}

// call sends one frame and reads the answer, within timeout (none when
// zero) and while ctx lasts. Past either, it kills the worker and fails
// with an error wrapping capabilities.ErrTimeout or with ctx's error. It
// fails with the pipe's error or ErrFrameTooLarge when the exchange
// breaks; the worker must then be stopped.
func (w *worker) call(ctx context.Context, timeout time.Duration, frame []byte) ([]byte, error) {
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		if err := writeFrame(w.stdin, frame); err != nil {
			done <- result{err: err}
			return
		}
		data, err := readFrame(w.stdout, MaxFrameSize)
		done <- result{data, err}
	}()
	var expired <-chan time.Time
	if timeout > 0 {
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		expired = timer.C
	}
	select {
	case r := <-done:
		return r.data, r.err
	case <-expired:
		w.kill()
		<-done // the pipes fail once the process is gone
		return nil, fmt.Errorf("template: %w after %v", capabilities.ErrTimeout, timeout)
	case <-ctx.Done():
		w.kill()
		<-done
		return nil, ctx.Err()
	}
}

// kill ends the process at once and waits until it is reaped, then closes
// our ends of its pipes. It is safe to call more than once.
func (w *worker) kill() {
	if w.alive() {
		_ = w.cmd.Process.Kill() // fails only when it has already ended
	}
	<-w.exited
	_, _ = w.stdin.Close(), w.stdout.Close()
}

// stop closes the worker's stdin, on which it exits, and kills it when it
// has not within grace.
func (w *worker) stop(grace time.Duration) {
	_ = w.stdin.Close()
	select {
	case <-w.exited:
	case <-time.After(grace):
	}
	w.kill()
}

// failure kills the worker after the exchange broke with err, and says
// why in terms of the evaluation: out of memory (its stderr says so) wraps
// capabilities.ErrTooLarge, a result over MaxFrameSize too, and any other
// death of the process wraps capabilities.ErrInvalid, as a panic in CUE
// does in process. memoryLimit, when set, is named in the message.
func (w *worker) failure(err error, memoryLimit int64) error {
	w.kill()
	switch {
	case outOfMemory(w.stderr.String()) && memoryLimit > 0:
		return fmt.Errorf("template: evaluation %w: it needs more than %d MiB of memory", capabilities.ErrTooLarge, memoryLimit>>20)
	case outOfMemory(w.stderr.String()):
		return fmt.Errorf("template: evaluation %w: it needs more memory than there is", capabilities.ErrTooLarge)
	case errors.Is(err, ErrFrameTooLarge):
		return fmt.Errorf("template: result %w: %w", capabilities.ErrTooLarge, err)
	}
	return fmt.Errorf("template: %w: evaluation failed: its worker process ended (%v)", capabilities.ErrInvalid, w.cmd.ProcessState)
}

// outOfMemory reports whether a dead worker's stderr tells of memory it
// could not get: the Go runtime's "out of memory", or, in a race-detector
// build, which reserves its heap at fixed addresses, the failed
// reservation it reports instead.
func outOfMemory(stderr string) bool {
	return strings.Contains(stderr, "out of memory") ||
		strings.Contains(stderr, "too many address space collisions for -race mode")
}

// headBuffer keeps the first max bytes written to it and counts the rest.
type headBuffer struct {
	mu      sync.Mutex
	max     int
	buf     []byte
	dropped int64
}

// Write keeps what fits; it never fails, so that the worker is never
// blocked on its stderr.
func (h *headBuffer) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	keep := min(len(p), h.max-len(h.buf))
	h.buf = append(h.buf, p[:keep]...)
	h.dropped += int64(len(p) - keep)
	return len(p), nil
}

// String is what was kept, with a note of how much was not.
func (h *headBuffer) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.dropped > 0 {
		return fmt.Sprintf("%s… (%d more bytes)", h.buf, h.dropped)
	}
	return string(h.buf)
}
