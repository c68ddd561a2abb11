package queue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/lannerhq/lanner/alert"
	"github.com/lannerhq/lanner/outputs"
)

// Item is one alert to queue for one output.
type Item struct {
	Output string
	Msg    outputs.Message
}

// Outcome is what Enqueue did with one item.
type Outcome int

const (
	// Queued: on disk (fsync'd) in the output's queue.
	Queued Outcome = iota
	// Duplicate: the alert's uuid was already queued or delivered for that
	// output within the dedup window; not queued again.
	Duplicate
	// Full: refused, the output's queue is at its bound with overflow=reject.
	Full
)

func (o Outcome) String() string {
	switch o {
	case Queued:
		return "queued"
	case Duplicate:
		return "duplicate"
	case Full:
		return "full"
	}
	return "unknown"
}

// slot is one item on its way into one output's queue.
type slot struct {
	idx    int
	uuid   string
	val    []byte
	check  bool // uuid reserved in inDedup: must be released
	digest [16]byte
}

// group is the items of one Enqueue call bound for one output.
type group struct {
	q     *outQueue
	slots []slot
	rng   *seqRange
	delta counters
}

// Enqueue queues every item in its output's queue and returns one outcome
// per item, in order. It returns only after all Queued items are fsync'd:
// all of them are written in one atomic batch, so an alert routed to several
// outputs is queued for all or none. Concurrent calls share fsyncs through
// Pebble's commit pipeline. An error means nothing was queued.
//
// Small calls (up to combineMaxItems items) are combined with concurrent
// ones into one commit (combine.go).
func (s *Store) Enqueue(ctx context.Context, items []Item) ([]Outcome, error) {
	start := time.Now()
	defer func() { s.m.enqueue.Observe(time.Since(start).Seconds()) }()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(items) <= combineMaxItems && !s.comb.direct {
		return s.comb.enqueue(ctx, s, items)
	}
	return s.enqueue(ctx, items, nil)
}

// itemError is an Enqueue failure caused by one of the items themselves;
// nothing was written.
type itemError struct{ err error }

func (e itemError) Error() string { return e.err.Error() }
func (e itemError) Unwrap() error { return e.err }

// enqueue is Enqueue without combining. applied, when set, is called once
// the batch is in Pebble's commit pipeline, before its fsync is waited for.
func (s *Store) enqueue(ctx context.Context, items []Item, applied func()) ([]Outcome, error) {
	start := time.Now()
	if err := s.begin(); err != nil {
		return nil, err
	}
	defer s.end()

	outcomes := make([]Outcome, len(items))
	ar := arenas{pool: &s.arenas}
	defer ar.release()
	groups, err := s.encode(items, start, &ar)
	if err != nil {
		return nil, err
	}
	// Release every reservation whatever happens below.
	committed := false
	defer func() {
		for _, g := range groups {
			g.q.finishEnqueue(g, committed)
		}
	}()

	dedup := s.window > 0
	bucket := uint64(0)
	if dedup {
		bucket = s.bucket(start)
	}
	for _, g := range groups {
		if dedup {
			if err := s.dedup(g, bucket, outcomes); err != nil {
				return nil, err
			}
		}
		g.q.reserve(g, outcomes)
	}

	size := 0
	for _, g := range groups {
		for _, sl := range g.slots {
			size += len(sl.val) + 2*len(g.q.qPrefix) + len(sl.uuid) + 48
		}
	}
	b := s.db.NewBatchWithSize(size)
	defer b.Close()
	var kbuf []byte
	var dkeys [][16]byte
	n := 0
	for _, g := range groups {
		if g.rng == nil {
			continue
		}
		seq := g.rng.lo
		for _, sl := range g.slots {
			if outcomes[sl.idx] != Queued {
				continue
			}
			kbuf = appendSeqKey(kbuf[:0], g.q.qPrefix, seq)
			if err := b.Set(kbuf, sl.val, nil); err != nil {
				return nil, fmt.Errorf("queue: %w", err)
			}
			if dedup && sl.uuid != "" {
				dkeys = append(dkeys, sl.digest)
			}
			seq++
			n++
		}
		if !g.q.onDisk.Load() {
			if err := b.Set(g.q.oKey, nil, nil); err != nil {
				return nil, fmt.Errorf("queue: %w", err)
			}
		}
	}
	if n == 0 {
		return outcomes, nil
	}
	// Concurrent synced commits share one fsync in Pebble's commit pipeline.
	// The batch is applied first and the fsync waited for apart, so that a
	// combined commit lets the next group in (applied) while it waits.
	if err = s.db.ApplyNoSyncWait(b, pebble.Sync); err == nil {
		if applied != nil {
			applied()
		}
		err = b.SyncWait()
	}
	if err != nil {
		return nil, fmt.Errorf("queue: commit: %w", err)
	}
	for _, g := range groups {
		if g.rng != nil {
			g.q.onDisk.Store(true)
			g.q.hot.putGroup(g, items, outcomes, start)
		}
	}
	s.remember(bucket, dkeys)
	committed = true
	return outcomes, nil
}

// encode groups items by output (keeping their order) and encodes each
// entry into ar, marshalling an alert shared by several outputs only once.
func (s *Store) encode(items []Item, now time.Time, ar *arenas) ([]*group, error) {
	var groups []*group
	var byName map[string]*group
	// The items of one alert are adjacent (one per output it routes to), so
	// remembering the last alert's encoding finds the shared ones without a
	// map; one seen again later is only encoded again.
	var lastAlert *alert.Alert
	var lastEnc []byte
	var g *group
	for i, it := range items {
		a := it.Msg.Alert
		if a == nil {
			return nil, itemError{fmt.Errorf("queue: item %d: nil alert", i)}
		}
		// Most calls go to one output: the previous item's group first.
		if g == nil || g.q.name != it.Output {
			g = byName[it.Output]
			if g == nil {
				q, err := s.out(it.Output)
				if err != nil {
					return nil, itemError{fmt.Errorf("queue: item %d: %w", i, err)}
				}
				g = &group{q: q}
				if len(groups) == 0 {
					g.slots = make([]slot, 0, len(items))
				}
				groups = append(groups, g)
				if byName == nil && len(items) > 1 {
					byName = map[string]*group{}
				}
				if byName != nil {
					byName[it.Output] = g
				}
			}
		}
		// The entry is header, overrides, alert; the alert is encoded in
		// place, and copied from its first entry for its other outputs.
		cached := a == lastAlert
		need := entryHeader + 16 + 64*len(it.Msg.Overrides)
		if cached {
			need += len(lastEnc)
		} else {
			need += alertSizeHint(a)
		}
		buf := ar.reserve(need)
		start := len(buf)
		buf = append(buf, make([]byte, entryHeader)...)
		putEntryHeader(buf[start:], now, time.Time{}, 0)
		buf = appendOverrides(buf, it.Msg.Overrides)
		if cached {
			buf = append(buf, lastEnc...)
		} else {
			aStart := len(buf)
			var err error
			if buf, err = appendAlert(buf, a); err != nil {
				return nil, itemError{fmt.Errorf("queue: item %d: encode alert: %w", i, err)}
			}
			lastAlert, lastEnc = a, buf[aStart:len(buf):len(buf)]
		}
		// Capped, so that nothing appends into its neighbour.
		val := buf[start:len(buf):len(buf)]
		ar.cur = buf
		g.slots = append(g.slots, slot{idx: i, uuid: a.UUID, val: val})
	}
	return groups, nil
}

// arenaChunk is the size of the pooled buffers entries are encoded into
// (about 60 alerts): an Enqueue of a thousand alerts takes a few from the
// pool instead of allocating, and having the runtime zero, a megabyte.
const arenaChunk = 64 << 10

// arenas hands out room for entries from pooled chunks. A full chunk is
// replaced, never grown, so the entries already cut from it stay put. The
// entries are only read until Enqueue returns (the Pebble batch copies
// them), so release can give every chunk back then.
type arenas struct {
	pool  *sync.Pool // of *[]byte with cap arenaChunk
	cur   []byte
	owned []*[]byte
}

// reserve returns the current buffer with room for about n more bytes;
// the caller appends to it and stores the result back in cur. Appends past
// n are correct: they grow a copy, and the entries cut before stay valid.
func (ar *arenas) reserve(n int) []byte {
	if cap(ar.cur)-len(ar.cur) >= n {
		return ar.cur
	}
	if n > arenaChunk {
		ar.cur = make([]byte, 0, n)
		return ar.cur
	}
	p, _ := ar.pool.Get().(*[]byte)
	if p == nil {
		b := make([]byte, 0, arenaChunk)
		p = &b
	}
	ar.owned = append(ar.owned, p)
	ar.cur = (*p)[:0]
	return ar.cur
}

func (ar *arenas) release() {
	for _, p := range ar.owned {
		ar.pool.Put(p)
	}
	ar.owned, ar.cur = nil, nil
}

// alertSizeHint is about the size of a's binary encoding, without walking
// output_fields (a map walk per alert cost more than the encoding saved):
// Falco's output text renders most field values, so twice its length plus
// a per-field allowance covers the usual alert. A larger one is still
// encoded correctly; its append grows a copy of the current arena.
func alertSizeHint(a *alert.Alert) int {
	n := 96 + len(a.UUID) + len(a.Rule) + 2*len(a.Output) + len(a.Source) + len(a.Hostname) + 48*len(a.OutputFields)
	for _, t := range a.Tags {
		n += len(t) + 4
	}
	return n
}

// dedup marks as Duplicate the items whose uuid is already queued or
// delivered for the output. A uuid is first reserved in memory, so two
// concurrent calls cannot both queue it; then the window's buckets are
// consulted, in memory first, on disk only where the filter says "maybe".
func (s *Store) dedup(g *group, bucket uint64, outcomes []Outcome) error {
	q := g.q
	q.mu.Lock()
	for i := range g.slots {
		sl := &g.slots[i]
		if sl.uuid == "" {
			continue
		}
		if _, busy := q.inDedup[sl.uuid]; busy {
			outcomes[sl.idx] = Duplicate
			continue
		}
		q.inDedup[sl.uuid] = struct{}{}
		sl.check = true
	}
	q.mu.Unlock()
	oldest := uint64(0)
	if bucket >= dedupSpan {
		oldest = bucket - dedupSpan
	}
	for i := range g.slots {
		if sl := &g.slots[i]; sl.check {
			sl.digest = dedupDigest(q.name, sl.uuid)
		}
	}
	// The filters are probed under one read lock for the whole group; the
	// few "maybe"s (candidates) are then confirmed on disk outside it.
	type candidate struct {
		slot   int
		bucket uint64
	}
	var cands []candidate
	f := s.filter
	f.mu.RLock()
	live := f.liveBuckets(oldest, bucket, make([]liveBucket, 0, dedupSpan+1))
	for i := range g.slots {
		sl := &g.slots[i]
		if !sl.check {
			continue
		}
		h := digestHash(sl.digest)
		for _, lb := range live {
			if lb.mayHave(h) {
				cands = append(cands, candidate{i, lb.bucket})
			}
		}
	}
	f.mu.RUnlock()
	for _, c := range cands {
		sl := &g.slots[c.slot]
		if outcomes[sl.idx] == Duplicate {
			continue // found in a newer bucket already
		}
		dup, err := s.seen(c.bucket, sl.digest)
		if err != nil {
			return err
		}
		if dup {
			outcomes[sl.idx] = Duplicate
		}
	}
	var fresh []uint64
	for i := range g.slots {
		if sl := &g.slots[i]; sl.check && outcomes[sl.idx] != Duplicate {
			fresh = append(fresh, digestHash(sl.digest))
		}
	}
	// Added before the commit: should it fail, the extra entries only cost a
	// disk lookup later.
	if len(fresh) > 0 {
		s.filter.add(bucket, fresh...)
	}
	return nil
}

// seen looks the digest up in the index of one bucket: the writes still
// gathering in memory, then the DB. The DB is read after the memory, so a
// digest ingested meanwhile is found in one or the other.
//
// The lookup is an iterator that consults every table's Bloom filter, not
// DB.Get: Get skips the filters of the last level, where most of the
// window's buckets end up, and a lookup (almost always of an absent digest,
// after an in-memory false positive) then read index and data blocks from
// disk, ~300 µs each.
func (s *Store) seen(bucket uint64, digest [16]byte) (bool, error) {
	if s.dw.isPending(dedupEntry{bucket, digest}) {
		return true, nil
	}
	s.m.dedupLookups.Inc()
	it, err := s.ddb.NewIter(&pebble.IterOptions{UseL6Filters: true})
	if err != nil {
		return false, fmt.Errorf("queue: dedup lookup: %w", err)
	}
	key := dedupKey(make([]byte, 0, 25), bucket, digest)
	found := it.SeekPrefixGE(key) && bytes.Equal(it.Key(), key)
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return false, fmt.Errorf("queue: dedup lookup: %w", err)
	}
	return found, nil
}

// reserve applies the bound to the group's non-duplicate items and
// allocates their sequence numbers.
func (q *outQueue) reserve(g *group, outcomes []Outcome) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := uint64(0)
	for _, sl := range g.slots {
		switch outcomes[sl.idx] {
		case Duplicate:
			q.duplicates.Add(1)
			q.m.duplicates.Inc()
			continue
		}
		size := int64(len(sl.val))
		if q.opts.Overflow == OverflowReject &&
			((q.opts.MaxEntries > 0 && q.depth+g.delta.qEntries+1 > int64(q.opts.MaxEntries)) ||
				(q.opts.MaxBytes > 0 && q.bytes+g.delta.qBytes+size > q.opts.MaxBytes)) {
			outcomes[sl.idx] = Full
			q.rejected.Add(1)
			q.m.rejected.Inc()
			continue
		}
		g.delta.qEntries++
		g.delta.qBytes += size
		n++
	}
	if n == 0 {
		return
	}
	g.rng = &seqRange{lo: q.nextSeq, hi: q.nextSeq + n}
	q.nextSeq += n
	q.pending = append(q.pending, g.rng)
	// Count reserved entries at once so concurrent calls see the bound.
	q.depth += g.delta.qEntries
	q.bytes += g.delta.qBytes
}

// finishEnqueue resolves the group's reservations after the commit (or its
// failure): the sequence range becomes readable, the uuids are released and
// waiting workers wake up.
func (q *outQueue) finishEnqueue(g *group, committed bool) {
	q.mu.Lock()
	for _, sl := range g.slots {
		if sl.check {
			delete(q.inDedup, sl.uuid)
		}
	}
	if g.rng != nil {
		if !committed {
			q.depth -= g.delta.qEntries
			q.bytes -= g.delta.qBytes
		}
		q.setGauges()
		g.rng.done = true
		i := 0
		for i < len(q.pending) && q.pending[i].done {
			i++
		}
		if i > 0 {
			q.pending = append(q.pending[:0], q.pending[i:]...)
		}
		if len(q.pending) > 0 {
			q.committed.Store(q.pending[0].lo)
		} else {
			q.committed.Store(q.nextSeq)
		}
		if q.wake != nil {
			close(q.wake)
			q.wake = nil
		}
	}
	over := committed && g.rng != nil && q.opts.Overflow == OverflowDropOldest && q.overLocked()
	q.mu.Unlock()
	if over {
		q.trim()
	}
}

func (q *outQueue) overLocked() bool {
	return (q.opts.MaxEntries > 0 && q.depth > int64(q.opts.MaxEntries)) ||
		(q.opts.MaxBytes > 0 && q.bytes > q.opts.MaxBytes)
}

// waitChan returns a channel closed by the next commit to this queue.
func (q *outQueue) waitChan() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.wake == nil {
		q.wake = make(chan struct{})
	}
	return q.wake
}

// available is about how many committed entries no worker has taken yet.
func (q *outQueue) available() uint64 {
	c, r := q.committed.Load(), q.readSeq.Load()
	if c > r {
		return c - r
	}
	return 0
}

// trim enforces overflow=drop_oldest: it deletes the oldest entries no
// worker has taken until the queue is within its bounds, counting each.
// Entries in flight are not touched, so the queue may stay over its bound
// by at most the in-flight batches. The caller holds s.begin.
func (q *outQueue) trim() {
	q.readMu.Lock()
	defer q.readMu.Unlock()
	for {
		q.mu.Lock()
		excessN, excessB := int64(0), int64(0)
		if q.opts.MaxEntries > 0 {
			excessN = q.depth - int64(q.opts.MaxEntries)
		}
		if q.opts.MaxBytes > 0 {
			excessB = q.bytes - q.opts.MaxBytes
		}
		q.mu.Unlock()
		if excessN <= 0 && excessB <= 0 {
			return
		}
		lo, hi := q.readSeq.Load(), q.committed.Load()
		if lo >= hi {
			return
		}
		it, err := q.s.db.NewIter(&pebble.IterOptions{LowerBound: seqKey(q.qPrefix, lo), UpperBound: seqKey(q.qPrefix, hi)})
		if err != nil {
			q.s.log.Error("drop_oldest: read failed", "output", q.name, "err", err)
			return
		}
		b := q.s.db.NewBatch()
		var d counters
		next := hi
		for it.First(); it.Valid(); it.Next() {
			if (excessN <= 0 && excessB <= 0) || -d.qEntries >= 1000 {
				next = seqOf(it.Key())
				break
			}
			sz := int64(len(it.Value()))
			if err := b.Delete(it.Key(), nil); err != nil {
				next = seqOf(it.Key())
				break
			}
			d.qEntries--
			d.qBytes -= sz
			excessN--
			excessB -= sz
		}
		err = it.Close()
		if err == nil && d.qEntries < 0 {
			err = b.Commit(pebble.NoSync)
		}
		b.Close()
		if err != nil {
			q.s.log.Error("drop_oldest: delete failed", "output", q.name, "err", err)
			return
		}
		q.readSeq.Store(next)
		if d.qEntries == 0 {
			return
		}
		q.apply(d)
		q.dropped.Add(-d.qEntries)
		q.m.droppedOldest.Add(float64(-d.qEntries))
		// Log at most every 10s: a queue kept full would log on every enqueue.
		if now := time.Now().UnixNano(); now-q.lastDropLog.Load() > int64(10*time.Second) {
			q.lastDropLog.Store(now)
			q.s.log.Warn("queue full: dropping oldest alerts", "output", q.name, "dropped_total", q.dropped.Load())
		}
	}
}
