package embedded

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestGroupCommitIsolatesFailures runs many commits at once, a third of
// them failing, and checks that each caller gets its own answer: its write
// is committed exactly when it succeeded, and after hooks run only then.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	t.Parallel()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "g.db"), 0o600, &bolt.Options{Timeout: DefaultLockTimeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	bucket := []byte("b")
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket(bucket); return err }); err != nil {
		t.Fatal(err)
	}
	var writeMu sync.Mutex
	g := &groupCommit{update: db.Update, writeMu: &writeMu}
	errRefused := errors.New("refused")
	const n = 60
	errs := make([]error, n)
	afters := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			key := fmt.Appendf(nil, "k%02d", i)
			errs[i] = g.do(func(tx *bolt.Tx) error {
				if i%3 == 0 {
					return fmt.Errorf("k%02d: %w", i, errRefused)
				}
				return tx.Bucket(bucket).Put(key, []byte("v"))
			}, func() { afters[i]++ })
		})
	}
	wg.Wait()
	err = db.View(func(tx *bolt.Tx) error {
		for i := range n {
			stored := tx.Bucket(bucket).Get(fmt.Appendf(nil, "k%02d", i)) != nil
			wantFail := i%3 == 0
			switch {
			case wantFail && !errors.Is(errs[i], errRefused):
				t.Errorf("call %d: err = %v, want refused", i, errs[i])
			case !wantFail && errs[i] != nil:
				t.Errorf("call %d: err = %v, want nil", i, errs[i])
			case stored == wantFail:
				t.Errorf("call %d: stored = %v, want %v", i, stored, !wantFail)
			case afters[i] != map[bool]int{true: 0, false: 1}[wantFail]:
				t.Errorf("call %d: after ran %d times", i, afters[i])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
