package queue

import (
	"github.com/cockroachdb/pebble"
)

// The group-commit stage. Pebble already shares one fsync among concurrent
// synced commits, but each commit still pays its own trip through the
// commit pipeline (a WAL record, a memtable insert, a wakeup). Small
// Enqueues (single-alert HTTP requests) are therefore handed to a few
// committer goroutines that merge whatever is waiting into one batch and
// commit it with one sync; see BENCHMARKS.md for the measured gain. Large
// Enqueues commit directly: they are a group already.
const (
	groupCommitters  = 2       // one gathers while the other's fsync is in flight
	groupMaxItems    = 1024    // most requests merged into one batch
	groupMaxBytes    = 4 << 20 // most bytes merged into one batch
	groupDirectBytes = 64 << 10
)

type commitReq struct {
	b    *pebble.Batch
	done chan error
}

type committer struct {
	db   *pebble.DB
	reqs chan *commitReq
	done chan struct{}
}

func newCommitter(db *pebble.DB) *committer {
	c := &committer{db: db, reqs: make(chan *commitReq, groupMaxItems), done: make(chan struct{})}
	for range groupCommitters {
		go c.run()
	}
	return c
}

// commit returns once b is durably committed.
func (c *committer) commit(b *pebble.Batch) error {
	r := &commitReq{b: b, done: make(chan error, 1)}
	c.reqs <- r
	return <-r.done
}

// stop ends the committers; no commit may be in flight or follow.
func (c *committer) stop() {
	close(c.reqs)
	for range groupCommitters {
		<-c.done
	}
}

func (c *committer) run() {
	defer func() { c.done <- struct{}{} }()
	group := make([]*commitReq, 0, groupMaxItems)
	for first := range c.reqs {
		group = append(group[:0], first)
		size := first.b.Len()
	gather:
		for len(group) < groupMaxItems && size < groupMaxBytes {
			select {
			case r, ok := <-c.reqs:
				if !ok {
					break gather
				}
				group = append(group, r)
				size += r.b.Len()
			default:
				break gather
			}
		}
		var err error
		if len(group) == 1 {
			err = first.b.Commit(pebble.Sync)
		} else {
			merged := c.db.NewBatch()
			for _, r := range group {
				if err = merged.Apply(r.b, nil); err != nil {
					break
				}
			}
			if err == nil {
				err = merged.Commit(pebble.Sync)
			}
			merged.Close()
		}
		for _, r := range group {
			r.done <- err
		}
	}
}
