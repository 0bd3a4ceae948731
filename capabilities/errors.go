package capabilities

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is the sentinel wrapped by every error about a bundle's
// content: bad metadata, a template that does not compile, a manifest that is
// not a Kubernetes object, parameters that do not fit the template.
var ErrInvalid = errors.New("invalid bundle")

// ErrTooLarge is wrapped when a bundle, or one of its files, exceeds a
// [Limits] bound. It is reported as soon as the bound is crossed while
// reading, before the rest of the input is consumed.
var ErrTooLarge = errors.New("exceeds limit")

// ErrUnsafePath is wrapped when a file name in a bundle folder or artifact
// could escape the bundle: an absolute path, "..", a backslash, a symlink.
var ErrUnsafePath = errors.New("unsafe path")

// ErrTimeout is wrapped when a CUE evaluation runs longer than its bound.
var ErrTimeout = errors.New("evaluation timed out")

// A Problem is one thing wrong with a bundle, located in the file it came
// from. Line and Col are 1-based and zero when unknown.
type Problem struct {
	File string
	Line int
	Col  int
	Msg  string
}

func (p Problem) String() string {
	switch {
	case p.File == "":
		return p.Msg
	case p.Line == 0:
		return p.File + ": " + p.Msg
	case p.Col == 0:
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	default:
		return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Col, p.Msg)
	}
}

// A ValidationError lists every problem found in a bundle, so that an author
// can fix them all in one pass. It wraps [ErrInvalid].
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	if len(lines) == 1 {
		return lines[0]
	}
	return fmt.Sprintf("%d problems:\n  %s", len(lines), strings.Join(lines, "\n  "))
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// problems collects Problems while a bundle is checked.
type problems []Problem

func (ps *problems) add(file string, line, col int, format string, args ...any) {
	*ps = append(*ps, Problem{File: file, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)})
}

// err returns nil when nothing was found, or a *ValidationError.
func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return &ValidationError{Problems: ps}
}

// Problems returns the problems carried by err: those of a *ValidationError
// found with errors.As, or err itself as a single problem.
func Problems(err error) []Problem {
	var ve *ValidationError
	if errors.As(err, &ve) {
		return ve.Problems
	}
	if err == nil {
		return nil
	}
	return []Problem{{Msg: err.Error()}}
}
