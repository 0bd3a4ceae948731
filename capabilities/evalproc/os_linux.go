package evalproc

import (
	"bytes"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"syscall"
)

// limitMemory caps this process's address space (RLIMIT_AS) at what it
// holds now plus budget, hard and soft, so that a Go runtime that reserved
// much at start (or a race-detector build) still gets all of budget; and
// sets the Go memory limit to three quarters of budget, so that the
// collector works hard before the cap is reached. Zero sets nothing. It
// fails when /proc/self/statm cannot be read or the limit cannot be set.
func limitMemory(budget int64) error {
	if budget <= 0 {
		return nil
	}
	held, err := addressSpace()
	if err != nil {
		return err
	}
	limit := held + uint64(budget)
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_AS, &old); err != nil {
		return fmt.Errorf("getrlimit: %w", err)
	}
	limit = min(limit, old.Max) // only root may raise the hard limit
	if err := syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: limit, Max: limit}); err != nil {
		return fmt.Errorf("setrlimit: %w", err)
	}
	debug.SetMemoryLimit(budget / 4 * 3)
	return nil
}

// addressSpace is the size of this process's address space, in bytes: the
// first field of /proc/self/statm, in pages.
func addressSpace() (uint64, error) {
	statm, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, err
	}
	field, _, _ := bytes.Cut(statm, []byte(" "))
	pages, err := strconv.ParseUint(string(field), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("/proc/self/statm: %w", err)
	}
	return pages * uint64(os.Getpagesize()), nil
}

// sysProcAttr has the kernel kill a worker when the OS thread that started
// it ends, so that no worker outlives its parent, even one too busy to
// notice its stdin closing. The Go runtime ends a thread only when a
// goroutine locked to it exits, and the pool starts workers from unlocked
// goroutines: in practice, when the parent process ends.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
