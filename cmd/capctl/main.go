// Command capctl authors, checks, renders and packs capability bundles, and
// publishes, finds and pulls them from a capcenter registry.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], streams{in: os.Stdin, out: os.Stdout, err: os.Stderr})
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "capctl:", err)
		os.Exit(1)
	}
}
