package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestProgressBarsOnlyOnATerminal(t *testing.T) {
	t.Parallel()
	if progressBars(&bytes.Buffer{}) != nil {
		t.Error("progress bars drawn on a buffer")
	}
}

func TestBarDrawsItsLabel(t *testing.T) {
	t.Parallel()
	for _, err := range []error{nil, errors.New("broken")} {
		var buf bytes.Buffer
		b := newBar(&buf, "push web@1.0.0", 2<<20)
		b.Add(1 << 20)
		b.Add(1 << 20)
		b.Done(err)
		if !strings.Contains(buf.String(), "push web@1.0.0") {
			t.Errorf("bar printed %q, want its label", buf.String())
		}
	}
}
