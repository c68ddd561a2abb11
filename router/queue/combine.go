package queue

import (
	"context"
	"errors"
	"sync"
)

// Small Enqueues are combined. A single-alert HTTP request queues one item
// per output it routes to; committed alone, each pays its own trip through
// Pebble's commit pipeline, its own batch and a memtable insert that starts
// from the top of the skiplist (a batch's keys after its first are inserted
// next to the previous one), its own pass through the dedup filters and its
// own wakeup of the workers. Combined, a few dozen requests share all of it.
//
// There is no extra goroutine and no timer: the first caller to find no
// group open becomes its leader, waits for a commit slot (while the commit
// before it waits for its fsync, later callers join the group), closes the
// group and commits it as one Enqueue; the others wait for its outcome. An
// idle store therefore commits a lone request at once.
const (
	// combineMaxItems: larger Enqueues (gRPC batches) are a group already
	// and commit on their own.
	combineMaxItems = 16
	// combineMaxGroup bounds one combined commit.
	combineMaxGroup = 1024
	// combineInFlight combined commits may run at once: one gathers and
	// encodes while the other waits for its fsync.
	combineInFlight = 2
)

type combiner struct {
	mu     sync.Mutex
	open   *combined     // the group new callers join; nil: none
	slots  chan struct{} // capacity combineInFlight
	direct bool          // benchmarks: never combine
}

type combined struct {
	items    []Item
	outcomes []Outcome
	err      error
	done     chan struct{}
}

func newCombiner() *combiner {
	return &combiner{slots: make(chan struct{}, combineInFlight)}
}

// enqueue queues items as part of a combined commit. All of the caller's
// items are in the same atomic batch, so they are queued all or none, and
// it returns only once that batch is fsync'd.
func (c *combiner) enqueue(ctx context.Context, s *Store, items []Item) ([]Outcome, error) {
	c.mu.Lock()
	g := c.open
	leader := g == nil || len(g.items)+len(items) > combineMaxGroup
	if leader {
		g = &combined{items: make([]Item, 0, 64), done: make(chan struct{})}
		c.open = g
	}
	off := len(g.items)
	g.items = append(g.items, items...)
	c.mu.Unlock()

	if leader {
		c.slots <- struct{}{}
		c.mu.Lock()
		if c.open == g {
			c.open = nil // closed: later callers start the next group
		}
		c.mu.Unlock()
		// The group's commit must not fail because its leader's caller
		// went away: the others wait for it. Enqueue checked ctx already.
		g.outcomes, g.err = s.enqueue(context.WithoutCancel(ctx), g.items)
		<-c.slots
		close(g.done)
	} else {
		<-g.done
	}
	if errors.As(g.err, new(itemError)) {
		// Somebody's item was bad and nothing was written: each caller
		// tries alone, so only the bad one fails (a rare path).
		return s.enqueue(ctx, items)
	}
	if g.err != nil {
		return nil, g.err
	}
	return append([]Outcome(nil), g.outcomes[off:off+len(items)]...), nil
}
