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

// seed publishes every built-in bundle through srv, as a push would be:
// packed, validated, signed, then stored. A bundle already published is a
// no-op; a version published with other content is kept and logged. It
// fails when a built-in does not load or the server refuses a publish.
func seed(ctx context.Context, srv *server.Server, limits capabilities.Limits, log *slog.Logger) error {
	bundles, err := builtin.Load(ctx, limits)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	for _, b := range bundles {
		mem := memory.New()
		desc, err := capabilities.Pack(ctx, mem, b)
		if err != nil {
			return fmt.Errorf("seed %s: %w", b.Metadata.Name, err)
		}
		stored, created, err := srv.Publish(ctx, mem, desc)
		switch {
		case errors.Is(err, store.ErrAlreadyExists):
			log.Warn("seed: kept the version already published", "capability", b.Metadata.Name, "version", b.Metadata.Version, "error", err)
		case err != nil:
			return fmt.Errorf("seed %s: %w", b.Metadata.Name, err)
		case !created: // a new one the server logged itself
			log.Debug("seed: already published", "capability", stored.Name, "version", stored.Version)
		}
	}
	return nil
}
