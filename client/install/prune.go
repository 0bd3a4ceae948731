package install

import (
	"context"
	"fmt"
)

// prune deletes, in reverse tier order, the objects rec.Prune lists that
// still carry the capability's label, adding them to ir.Pruned; an object
// gone already, or labeled for another capability now (taken over by
// another capability or a person), is left alone. A dry run deletes with
// server-side dry run. It fails with the first delete's error, naming the
// capability and object; rec.Prune still lists what is left.
func (in *Installer) prune(ctx context.Context, rec *Record, ir *ItemResult, dryRun bool) error {
	for _, ref := range reverseTiers(rec.Prune) {
		deleted, err := in.deleteOwned(ctx, ref, rec.Name, dryRun)
		if err != nil {
			return fmt.Errorf("%s: prune: %w", rec.Name, err)
		}
		if deleted {
			ir.Pruned = append(ir.Pruned, ref)
			in.cfg.Logger.Debug("pruned", "capability", rec.Name, "object", ref.String(), "dryRun", dryRun)
		}
	}
	if !dryRun {
		rec.Prune = nil
	}
	return nil
}
