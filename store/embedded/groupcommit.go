package embedded

import (
	"sync"

	bolt "go.etcd.io/bbolt"
)

// groupCommit coalesces index commits that arrive while another is running
// into one bbolt transaction, so publishes in flight share one fsync. A
// commit that finds none running starts at once: a lone publish waits for
// nothing, unlike bbolt's DB.Batch, which waits MaxBatchDelay to gather a
// batch.
type groupCommit struct {
	// update runs one read-write transaction (the Store's update).
	update func(func(*bolt.Tx) error) error
	// writeMu is the Store's: a batch holds it from its transaction until
	// every caller's after hook has run.
	writeMu *sync.Mutex

	mu      sync.Mutex
	queue   []*commitCall
	running bool
}

// commitCall is one caller's share of a batch. fn must write nothing when
// it returns an error, and must give the same answer when run again: a
// batch in which one fn fails is rolled back, the failing call is run in a
// transaction of its own, and the others are run again together.
type commitCall struct {
	fn    func(*bolt.Tx) error
	after func() // runs, under writeMu, once fn's writes are committed
	err   error
	done  chan struct{}
}

// do runs fn in a transaction shared with the commits queued beside it,
// then after (when fn succeeded and the transaction committed), and
// returns fn's error or the transaction's.
func (g *groupCommit) do(fn func(*bolt.Tx) error, after func()) error {
	call := &commitCall{fn: fn, after: after, done: make(chan struct{})}
	g.mu.Lock()
	g.queue = append(g.queue, call)
	lead := !g.running
	g.running = true
	g.mu.Unlock()
	if lead {
		g.drain()
	}
	<-call.done
	return call.err
}

// drain runs batches until the queue is empty. The caller that found no
// batch running drains; the others wait on their done channel.
func (g *groupCommit) drain() {
	for {
		g.mu.Lock()
		batch := g.queue
		g.queue = nil
		if len(batch) == 0 {
			g.running = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		g.run(batch)
	}
}

// run commits batch, isolating calls that fail, and finishes every call.
func (g *groupCommit) run(batch []*commitCall) {
	g.writeMu.Lock()
	defer g.writeMu.Unlock()
	for len(batch) > 0 {
		failed := -1
		err := g.update(func(tx *bolt.Tx) error {
			for i, c := range batch {
				if err := c.fn(tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed < 0 {
			for _, c := range batch {
				c.err = err
				if err == nil && c.after != nil {
					c.after()
				}
				close(c.done)
			}
			return
		}
		// Run the failing call alone, so its error is its own and not an
		// effect of a write by another call in the batch.
		c := batch[failed]
		c.err = g.update(c.fn)
		if c.err == nil && c.after != nil {
			c.after()
		}
		close(c.done)
		batch = append(batch[:failed:failed], batch[failed+1:]...)
	}
}
