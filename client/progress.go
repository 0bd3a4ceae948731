package client

// A ProgressFunc is called as a bundle transfer starts, with a label
// naming it ("push webservice@1.0.0", "pull webservice@latest") and the
// number of bytes of content (config and layers) it will move. It returns
// the Tracker that follows this transfer, or nil to follow nothing.
type ProgressFunc func(label string, total int64) Tracker

// A Tracker follows one transfer. Its methods are called from the goroutine
// that made the call, never concurrently.
type Tracker interface {
	// Add reports n more bytes sent or received and verified so far.
	Add(n int)
	// Done is called exactly once, when the transfer ends, with its error
	// or nil.
	Done(err error)
}

// startTransfer starts following a transfer; the returned tracker is never
// nil.
func (c *Client) startTransfer(label string, total int64) Tracker {
	if c.progress == nil {
		return noTracker{}
	}
	if t := c.progress(label, total); t != nil {
		return t
	}
	return noTracker{}
}

// noTracker follows nothing.
type noTracker struct{}

func (noTracker) Add(int)    {}
func (noTracker) Done(error) {}
