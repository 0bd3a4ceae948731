package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/capcenter/capcenter/store/embedded"
)

// gcOptions are the flags of `capd gc`.
type gcOptions struct {
	dryRun bool
	// grace spares unreferenced files younger than it; 0 spares none.
	grace time.Duration
}

// gcFlags declares the flags only gc takes.
func gcFlags(fs *flag.FlagSet, o *gcOptions) {
	fs.BoolVar(&o.dryRun, "dry-run", false, "count what would be removed, remove nothing")
	fs.DurationVar(&o.grace, "grace", embedded.DefaultGCGrace,
		"spare unreferenced blobs and ingest files modified less than this long ago; 0 spares none")
}

// gc removes the content of the store in dir that its index does not
// reach, and prints what it removed (or would have, with --dry-run). It
// runs on a store opened by this process, so capd must be stopped: the
// index lock refuses a second process. It fails with the store's error,
// having removed nothing when the index references content that is
// missing.
func gc(ctx context.Context, st *embedded.Store, dir string, o gcOptions, stdout io.Writer) error {
	grace := o.grace
	if grace <= 0 {
		grace = -1 // the store reads 0 as its default
	}
	s, err := st.GC(ctx, embedded.GCOptions{DryRun: o.dryRun, Grace: grace})
	if err != nil {
		return fmt.Errorf("gc %s: %w (removed %d blobs and %d ingest files before failing)", dir, err, s.Removed, s.Ingest)
	}
	verb := "removed"
	if o.dryRun {
		verb = "would remove"
	}
	fmt.Fprintf(stdout, "capd: gc %s: %s %d of %d blobs (%d bytes), %d referenced, %d spared as younger than %s; %s %d ingest files (%d bytes); %d unauthenticated records not kept\n",
		dir, verb, s.Removed, s.Blobs, s.RemovedBytes, s.Referenced, s.Spared, max(o.grace, 0), verb, s.Ingest, s.IngestBytes, s.Unauthenticated)
	return nil
}
