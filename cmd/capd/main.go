// Command capd is the capcenter server: the gRPC API, the REST gateway and
// the bundle download, over an embedded store in a data folder.
//
//	capd [flags]                 serve (see capd -h)
//	capd reindex --data DIR      rebuild the index of DIR from its content
//	capd gc --data DIR           remove content the index does not reach
//	capd token create --name N --scope S --file FILE
//	                             make a token; its hash goes to FILE
//
// SIGINT and SIGTERM stop a serving capd, letting calls finish for
// --shutdown-timeout. With --tokens, SIGHUP reads the token file again:
// the log says how many tokens are now in use, or, for a file that does
// not parse, names the file and the line, and the tokens read before stay
// in use. A token removed from the file is refused from the next request
// on; calls it started before the reload, streams included, run to their
// end. Without --tokens, SIGHUP ends capd, as it ends most programs.
//
// A serving capd evaluates CUE (checking a published template, rendering)
// in worker processes of its own executable, started as the hidden
// `capd eval-worker`: --eval-workers of them at most (GOMAXPROCS by
// default; 0 evaluates in capd's process instead), each capped at
// --eval-memory (2GiB by default; a hard cap on Linux) and killed when an
// evaluation passes its time bound or its caller goes away. Workers die
// with capd.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	cfg, err := parseArgs(os.Args[1:], os.Getenv, os.Stderr)
	if err == nil {
		err = run(ctx, cfg, os.Stdout, os.Stderr)
	}
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case err != nil:
		fmt.Fprintln(os.Stderr, "capd:", err)
		os.Exit(1)
	}
}
