package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"oras.land/oras-go/v2/content/memory"

	"github.com/capcenter/capcenter/capabilities"
	"github.com/capcenter/capcenter/capabilities/builtin"
	"github.com/capcenter/capcenter/server"
	"github.com/capcenter/capcenter/store"
)

// seed publishes every built-in bundle, as the server would: packed,
// unpacked and validated, then described. A bundle already published is a
// no-op; a version published with other content is kept and logged. It
// fails when a built-in does not load or the store refuses a publish.
func seed(ctx context.Context, st store.Store, limits capabilities.Limits, log *slog.Logger) error {
	bundles, err := builtin.Load(ctx, limits)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	describe := server.DescribeWithin(limits)
	for _, b := range bundles {
		mem := memory.New()
		desc, err := capabilities.Pack(ctx, mem, b)
		if err != nil {
			return fmt.Errorf("seed %s: %w", b.Metadata.Name, err)
		}
		v, err := describe(ctx, mem, desc)
		if err != nil {
			return fmt.Errorf("seed %s: %w", b.Metadata.Name, err)
		}
		stored, created, err := st.Publish(ctx, store.Publication{Manifest: desc, Content: mem, Version: v})
		switch {
		case errors.Is(err, store.ErrAlreadyExists):
			log.Warn("seed: kept the version already published", "capability", v.Name, "version", v.Version, "error", err)
		case err != nil:
			return fmt.Errorf("seed %s: %w", b.Metadata.Name, err)
		case created:
			log.Info("seed: published", "capability", stored.Name, "version", stored.Version, "digest", stored.Digest)
		default:
			log.Debug("seed: already published", "capability", stored.Name, "version", stored.Version)
		}
	}
	return nil
}
