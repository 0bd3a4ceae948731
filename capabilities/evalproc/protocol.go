package evalproc

import (
	"errors"

	"github.com/capcenter/capcenter/capabilities"
)

// The messages of the protocol, each one JSON frame. The pool opens with a
// hello, the worker answers ready; then each request gets one response, in
// turn, until the pool closes the worker's stdin.

// hello tells a new worker the limits to set on itself before it
// evaluates anything.
type hello struct {
	// MemoryLimit is how much more address space the worker may take, in
	// bytes; zero sets no limit.
	MemoryLimit int64 `json:"memoryLimit"`
}

// ready answers hello: Error says why the limits could not be set.
type ready struct {
	Error string `json:"error,omitempty"`
}

// request is one evaluation: exactly one field is set.
type request struct {
	Check  *capabilities.CheckRequest  `json:"check,omitempty"`
	Render *capabilities.RenderRequest `json:"render,omitempty"`
}

// response is the outcome of a request: Error, or the result of its kind.
type response struct {
	Check    *capabilities.CheckResult `json:"check,omitempty"`
	Rendered *capabilities.Rendered    `json:"rendered,omitempty"`
	Error    *wireError                `json:"error,omitempty"`
}

// Kinds of wireError: which sentinel of package capabilities the error
// wraps, so that errors.Is answers alike on both sides.
const (
	kindValidation = "validation" // a *capabilities.ValidationError
	kindInvalid    = "invalid"
	kindTooLarge   = "tooLarge"
	kindTimeout    = "timeout"
	kindOther      = "other"
)

// wireError is an evaluation's error as data.
type wireError struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
	// Problems are those of a validation error, positions and all.
	Problems []capabilities.Problem `json:"problems,omitempty"`
}

// toWire is err as data.
func toWire(err error) *wireError {
	var ve *capabilities.ValidationError
	// Only a bare one: a wrapped one's text says more, and must stay.
	if errors.As(err, &ve) && ve.Error() == err.Error() {
		return &wireError{Kind: kindValidation, Message: err.Error(), Problems: ve.Problems}
	}
	kind := kindOther
	switch {
	case errors.Is(err, capabilities.ErrTimeout):
		kind = kindTimeout
	case errors.Is(err, capabilities.ErrTooLarge):
		kind = kindTooLarge
	case errors.Is(err, capabilities.ErrInvalid):
		kind = kindInvalid
	}
	return &wireError{Kind: kind, Message: err.Error()}
}

// err is the error e describes: a *capabilities.ValidationError, or an
// error with e's message wrapping the sentinel of its kind.
func (e *wireError) err() error {
	switch e.Kind {
	case kindValidation:
		return &capabilities.ValidationError{Problems: e.Problems}
	case kindInvalid:
		return &remoteError{e.Message, capabilities.ErrInvalid}
	case kindTooLarge:
		return &remoteError{e.Message, capabilities.ErrTooLarge}
	case kindTimeout:
		return &remoteError{e.Message, capabilities.ErrTimeout}
	}
	return errors.New(e.Message)
}

// remoteError is an error a worker returned: its text, and the sentinel
// it wrapped there.
type remoteError struct {
	msg      string
	sentinel error
}

func (e *remoteError) Error() string { return e.msg }

// Unwrap makes errors.Is answer as it did in the worker.
func (e *remoteError) Unwrap() error { return e.sentinel }
