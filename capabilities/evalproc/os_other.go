//go:build !linux

package evalproc

import (
	"runtime/debug"
	"syscall"
)

// limitMemory sets the Go memory limit to three quarters of budget (zero
// sets nothing). Only Linux gets the hard cap on the address space: here
// an evaluation past budget slows down in garbage collection, and is ended
// by its time bound. It never fails.
func limitMemory(budget int64) error {
	if budget > 0 {
		debug.SetMemoryLimit(budget / 4 * 3)
	}
	return nil
}

// sysProcAttr is nil: without Linux's parent-death signal, a worker ends
// when its stdin closes, which a worker busy evaluating notices only when
// it is done.
func sysProcAttr() *syscall.SysProcAttr { return nil }
