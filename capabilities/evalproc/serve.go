package evalproc

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/capcenter/capcenter/capabilities"
)

// Serve is the whole of a worker process: it reads the pool's hello from
// in, sets this process's memory limits (see Config.MemoryLimit), then
// answers each request read from in on out, evaluating in this process
// with capabilities.InProcess and no time bound of its own (the pool
// kills the worker instead). Nothing else may write to out.
//
// It returns nil when in ends between requests, which is how a pool stops
// its workers. It fails when the hello or a request cannot be read or
// decoded, when the limits cannot be set (after telling the pool why), or
// when out cannot be written. An evaluation that needs more memory than
// the limit ends the process: the Go runtime's "fatal error: out of
// memory", exit status 2, which the pool recognizes on stderr.
func Serve(in io.Reader, out io.Writer) error {
	var h hello
	if err := readMessage(in, MaxFrameSize, &h); err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	if err := limitMemory(h.MemoryLimit); err != nil {
		_ = writeMessage(out, ready{Error: err.Error()})
		return fmt.Errorf("memory limit: %w", err)
	}
	if err := writeMessage(out, ready{}); err != nil {
		return err
	}
	for {
		var req request
		err := readMessage(in, MaxFrameSize, &req)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("request: %w", err)
		}
		if err := writeResponse(out, evaluate(&req)); err != nil {
			return fmt.Errorf("response: %w", err)
		}
	}
}

// evaluate runs req in this process.
func evaluate(req *request) *response {
	ctx := context.Background()
	var in capabilities.InProcess
	switch {
	case req.Check != nil:
		r, err := in.Check(ctx, *req.Check)
		if err != nil {
			return &response{Error: toWire(err)}
		}
		return &response{Check: r}
	case req.Render != nil:
		r, err := in.Render(ctx, *req.Render)
		if err != nil {
			return &response{Error: toWire(err)}
		}
		return &response{Rendered: r}
	}
	return &response{Error: &wireError{Kind: kindOther, Message: "evalproc: empty request"}}
}

// writeResponse writes resp, or, when it is over MaxFrameSize, an error
// saying so in its place.
func writeResponse(out io.Writer, resp *response) error {
	err := writeMessage(out, resp)
	if errors.Is(err, ErrFrameTooLarge) {
		tooLarge := fmt.Errorf("template: result %w: %w", capabilities.ErrTooLarge, err)
		return writeMessage(out, &response{Error: toWire(tooLarge)})
	}
	return err
}
