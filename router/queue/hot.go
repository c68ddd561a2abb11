package queue

import (
	"sync"
	"time"

	"github.com/lannerhq/lanner/outputs"
)

// hotCap is how many freshly queued entries an output keeps in memory for
// its workers (a power of two): a few delivery batches. A worker further
// behind reads from disk.
const hotCap = 2048

// hotTail hands freshly committed entries to the output's workers without
// a trip through Pebble: a worker that keeps up would otherwise read back,
// copy and decode every alert it was handed a millisecond earlier (about 3
// CPU-µs per alert, a twentieth of a single-alert request's cost).
//
// It is only a cache: the entry is on disk before it is put here, and a
// take that misses any sequence (an abandoned range, an entry written back
// for a retry, a worker far behind) falls back to reading the disk. Slots
// are indexed by sequence, so a stale slot is recognised by its seq.
type hotTail struct {
	mu    sync.Mutex
	slots [hotCap]hotSlot
	live  int // slots in use
}

type hotSlot struct {
	seq  uint64 // 0: empty (sequences start at 1)
	size int64
	enq  time.Time
	msg  outputs.Message
}

// putGroup caches a committed group's queued entries (g.rng is set), unless the workers
// are so far behind that they would read them from disk anyway (caching
// them would only pin their memory). The alerts are shared with the
// caller and the other outputs they were queued for: outputs must not
// modify alerts (outputs.Output says so).
//
// Once the workers fall behind, what the tail holds will be read from
// disk: it is emptied, so that a stalled destination does not keep
// thousands of decoded alerts alive (with GOGC=300 each live byte costs
// four of heap, and the collector runs more often near the memory limit).
func (h *hotTail) putGroup(g *group, items []Item, outcomes []Outcome, enq time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if g.rng.hi-g.q.readSeq.Load() > hotCap {
		if h.live > 0 {
			clear(h.slots[:])
			h.live = 0
		}
		return
	}
	seq := g.rng.lo
	for _, sl := range g.slots {
		if outcomes[sl.idx] != Queued {
			continue
		}
		s := &h.slots[seq&(hotCap-1)]
		if s.seq == 0 {
			h.live++
		}
		*s = hotSlot{seq: seq, size: int64(len(sl.val)), enq: enq, msg: items[sl.idx].Msg}
		seq++
	}
}

// encodedMsg is the entry's message as stored: as read from disk, or
// encoded again for an entry handed over from memory (only a retry or a
// dead letter needs it).
func (e *entry) encodedMsg() ([]byte, error) {
	if e.meta.msg != nil {
		return e.meta.msg, nil
	}
	enc, err := appendAlert(nil, e.msg.Alert)
	if err != nil {
		return nil, err
	}
	e.meta.msg = appendMessage(nil, e.msg.Overrides, enc)
	return e.meta.msg, nil
}

// take moves the cached entries [lo, lo+k) into es, for the largest k with
// k <= n, lo+k <= hi and every one of them cached. The slots are emptied:
// a batch read again after a stop comes from the disk, which holds any
// attempt counts written since.
func (h *hotTail) take(lo, hi uint64, n int) []entry {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := uint64(0)
	for lo+k < hi && k < uint64(n) && h.slots[(lo+k)&(hotCap-1)].seq == lo+k {
		k++
	}
	if k == 0 {
		return nil
	}
	es := make([]entry, k)
	for i := range es {
		s := &h.slots[(lo+uint64(i))&(hotCap-1)]
		es[i] = entry{seq: s.seq, size: s.size, meta: entryMeta{enq: s.enq}, msg: s.msg}
		*s = hotSlot{}
	}
	h.live -= len(es)
	return es
}
