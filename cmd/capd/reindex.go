package main

import (
	"context"
	"fmt"
	"io"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/server"
	"github.com/capcenter/capcenter/store"
)

// reindex rebuilds the index of the store in dir from its content and
// prints how many capabilities it holds. It fails with the store's error.
func reindex(ctx context.Context, st store.Store, dir string, limits capabilities.Limits, stdout io.Writer) error {
	if err := st.Reindex(ctx, server.DescribeWithin(limits)); err != nil {
		return fmt.Errorf("reindex %s: %w", dir, err)
	}
	page, err := st.ListCapabilities(ctx, store.Query{PageRequest: store.PageRequest{Size: 1}})
	if err != nil {
		return fmt.Errorf("reindex %s: %w", dir, err)
	}
	fmt.Fprintf(stdout, "capd: reindexed %s: %d capabilities\n", dir, page.Total)
	return nil
}
