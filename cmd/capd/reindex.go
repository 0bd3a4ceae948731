package main

import (
	"context"
	"fmt"
	"io"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/server"
	"github.com/capcenter/capcenter/store"
	"github.com/capcenter/capcenter/store/embedded"
)

// reindex rebuilds the index of the store in dir from its content and
// prints how many capabilities it holds, how many records it ignored as
// not sealed by the store (forged, or older than its record key), and how
// many manifests naming a version as subject no sealed referrer record
// names (pushed as blobs, or left by a referrer that never committed). It fails
// with the store's error.
func reindex(ctx context.Context, st *embedded.Store, dir string, limits capabilities.Limits, stdout io.Writer) error {
	stats, err := st.ReindexWithStats(ctx, server.DescribeWithin(limits))
	if err != nil {
		return fmt.Errorf("reindex %s: %w", dir, err)
	}
	page, err := st.ListCapabilities(ctx, store.Query{PageRequest: store.PageRequest{Size: 1}})
	if err != nil {
		return fmt.Errorf("reindex %s: %w", dir, err)
	}
	fmt.Fprintf(stdout, "capd: reindexed %s: %d capabilities; %d unauthenticated records and %d unrecorded referrers ignored\n",
		dir, page.Total, stats.Unauthenticated, stats.Unrecorded)
	return nil
}
