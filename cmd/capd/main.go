// Command capd is the capcenter server: the gRPC API, the REST gateway and
// the bundle download, over an embedded store in a data folder.
//
//	capd [flags]                 serve (see capd -h)
//	capd reindex --data DIR      rebuild the index of DIR from its content
//	capd gc --data DIR           remove content the index does not reach
//	capd token create --name N --scope S --file FILE
//	                             make a token; its hash goes to FILE
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
