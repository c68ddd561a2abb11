package queue

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/lannerhq/lanner/outputs"
)

// Overflow is what a full queue does with a new alert.
type Overflow int

const (
	// OverflowReject refuses the new alert: Enqueue reports Full (HTTP 503).
	OverflowReject Overflow = iota
	// OverflowDropOldest queues the new alert and deletes the oldest waiting
	// one, counted in Stats.Dropped and lanner_output_dropped_total.
	OverflowDropOldest
)

func (o Overflow) String() string {
	if o == OverflowDropOldest {
		return "drop_oldest"
	}
	return "reject"
}

// OutputOptions bound and drive one output's queue.
type OutputOptions struct {
	MaxEntries int      // queue bound in alerts; 0 = unbounded
	MaxBytes   int64    // queue bound in encoded bytes; 0 = unbounded
	Overflow   Overflow // what to do when a bound is reached

	Concurrency int           // workers, each with one batch in flight
	BatchSize   int           // most alerts per Send
	BatchWait   time.Duration // how long a worker waits to fill a batch

	MaxAttempts    int           // dead-letter after this many failed attempts; 0 = unlimited
	MaxAge         time.Duration // dead-letter a failing alert older than this since enqueue; 0 = unlimited
	BackoffInitial time.Duration // first retry waits in [BackoffInitial, 2*BackoffInitial]
	BackoffMax     time.Duration // no wait exceeds this (except a longer Retry-After)
}

// DefaultOutputOptions are the bounds and worker settings of an output whose
// config says nothing else. They also bound an output's queue before it is
// started.
func DefaultOutputOptions() OutputOptions {
	return OutputOptions{
		MaxEntries:     1_000_000,
		MaxBytes:       1 << 30,
		Overflow:       OverflowReject,
		Concurrency:    2,
		BatchSize:      100,
		BatchWait:      5 * time.Millisecond,
		MaxAttempts:    20,
		MaxAge:         24 * time.Hour,
		BackoffInitial: 500 * time.Millisecond,
		BackoffMax:     time.Minute,
	}
}

func (o *OutputOptions) validate() error {
	var errs []error
	if o.MaxEntries < 0 || o.MaxBytes < 0 || o.MaxAttempts < 0 || o.MaxAge < 0 {
		errs = append(errs, errors.New("bounds must not be negative"))
	}
	if o.Overflow != OverflowReject && o.Overflow != OverflowDropOldest {
		errs = append(errs, fmt.Errorf("unknown overflow policy %d", o.Overflow))
	}
	if o.Concurrency < 1 || o.Concurrency > 256 {
		errs = append(errs, fmt.Errorf("concurrency %d: want 1..256", o.Concurrency))
	}
	if o.BatchSize < 1 || o.BatchSize > 10_000 {
		errs = append(errs, fmt.Errorf("batch size %d: want 1..10000", o.BatchSize))
	}
	if o.BatchWait < 0 || o.BackoffInitial <= 0 || o.BackoffMax < o.BackoffInitial {
		errs = append(errs, errors.New("want batch wait >= 0 and 0 < backoff initial <= backoff max"))
	}
	return errors.Join(errs...)
}

// OutputStats is a snapshot of one output's queue.
type OutputStats struct {
	Depth int64 // alerts waiting (including batches in flight)
	Bytes int64 // their encoded size
	// Counters since Open.
	Delivered  int64 // alerts the output accepted
	Failed     int64 // failed delivery attempts, per alert
	Retries    int64 // alerts scheduled for another attempt
	Dropped    int64 // alerts deleted by overflow=drop_oldest
	Rejected   int64 // alerts refused by overflow=reject (Enqueue said Full)
	Duplicates int64 // alerts not queued because their uuid was seen
	// DeadLetters is how many alerts the output's dead letters hold now.
	DeadLetters int64
	State       string // "running", "backoff" (a worker waits to retry) or "stopped"
	LastError   string // last delivery error, URLs redacted; "" after a success
}

// outQueue is one output's queue: the in-memory cursors over its key range
// and, when started, its workers.
type outQueue struct {
	s       *Store
	name    string
	qPrefix []byte
	dPrefix []byte
	oKey    []byte // marks the output as present on disk; holds its counters after a clean Close
	// onDisk: oKey is written. Set by load or by the first committed Enqueue.
	onDisk atomic.Bool
	m      outMetrics

	// memLow: entries from this sequence on were committed to the DB's
	// current memtable (set at each memtable switch), so deleting one there
	// removes it before it is ever flushed (see settle).
	memLow atomic.Uint64

	// mu guards allocation, bounds and counters.
	mu        sync.Mutex
	opts      OutputOptions
	nextSeq   uint64
	pending   []*seqRange
	committed atomic.Uint64 // every seq below is committed or abandoned: readable
	depth     int64
	bytes     int64
	dDepth    int64
	dBytes    int64
	inDedup   map[string]struct{} // uuids being enqueued right now
	wake      chan struct{}       // closed on commit when a worker waits

	// readMu guards the read side. Every seq below readSeq was handed to a
	// worker, dropped or never existed; every seq below headSeq is deleted
	// on disk (covered by a range tombstone), so no read scans tombstones.
	readMu      sync.Mutex
	readSeq     atomic.Uint64
	headSeq     uint64
	outstanding map[*batch]struct{}
	hot         *hotTail // freshly committed entries, for workers that keep up

	// markMu guards the delivered log (marks.go): the spans delivered since
	// the last checkpoint, above headSeq, and the file they are appended to.
	// Lock order: readMu, then markMu.
	markMu   sync.Mutex
	marks    []span
	marked   int64 // entries marked since the last checkpoint
	markFile *os.File
	markBuf  []byte

	dlMu sync.Mutex // serialises Replay and Purge

	runMu   sync.Mutex
	run     *runner
	running atomic.Bool // lock-free for Stats while a stop waits

	delivered, failed, retries, dropped, rejected, duplicates atomic.Int64
	backoff                                                   atomic.Int32
	lastErr                                                   atomic.Pointer[string]
	lastDropLog, lastMarkLog                                  atomic.Int64
}

type seqRange struct {
	lo, hi uint64 // [lo, hi)
	done   bool
}

func (s *Store) newOutQueue(name string) *outQueue {
	q := &outQueue{
		s:           s,
		name:        name,
		qPrefix:     prefixKey(kindQueue, name),
		dPrefix:     prefixKey(kindDead, name),
		oKey:        prefixKey(kindOutput, name),
		m:           s.m.forOutput(name),
		opts:        DefaultOutputOptions(),
		inDedup:     map[string]struct{}{},
		outstanding: map[*batch]struct{}{},
		hot:         &hotTail{},
	}
	return q
}

// recover sets the cursors from disk: the head is the first live key, the
// next sequence follows the last live or dead key (dead letters keep their
// sequence as ID).
func (q *outQueue) recover(c counters) error {
	q.depth, q.bytes, q.dDepth, q.dBytes = c.qEntries, c.qBytes, c.dEntries, c.dBytes
	first, last, err := q.bounds(q.qPrefix, prefixEnd(q.qPrefix))
	if err != nil {
		return err
	}
	_, dLast, err := q.bounds(q.dPrefix, prefixEnd(q.dPrefix))
	if err != nil {
		return err
	}
	next := max(last, dLast) + 1
	if first == 0 {
		first = next
	}
	q.nextSeq = next
	q.memLow.Store(next)
	q.committed.Store(next)
	q.readSeq.Store(first)
	q.headSeq = first
	q.setGauges()
	return nil
}

// bounds returns the first and last sequence in [prefix, upper), 0 when
// empty.
func (q *outQueue) bounds(prefix, upper []byte) (first, last uint64, err error) {
	it, err := q.s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: upper})
	if err != nil {
		return 0, 0, err
	}
	defer it.Close()
	if it.First() {
		first = seqOf(it.Key())
	}
	if it.Last() {
		last = seqOf(it.Key())
	}
	return first, last, it.Error()
}

func (q *outQueue) setGauges() {
	q.m.depth.Set(float64(q.depth))
	q.m.bytes.Set(float64(q.bytes))
}

// applyLocked adds a committed counter delta to the in-memory copy.
func (q *outQueue) applyLocked(d counters) {
	q.depth += d.qEntries
	q.bytes += d.qBytes
	q.dDepth += d.dEntries
	q.dBytes += d.dBytes
	q.setGauges()
}

func (q *outQueue) apply(d counters) {
	q.mu.Lock()
	q.applyLocked(d)
	q.mu.Unlock()
}

// StartOutput starts name's workers delivering to out. Alerts queued before
// (or before a restart) are delivered first. The store does not close out.
func (s *Store) StartOutput(name string, out outputs.Output, o OutputOptions) error {
	if out == nil {
		return errors.New("queue: StartOutput: nil output")
	}
	if err := o.validate(); err != nil {
		return fmt.Errorf("queue: output %q: %w", name, err)
	}
	if err := s.begin(); err != nil {
		return err
	}
	defer s.end()
	q, err := s.out(name)
	if err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	q.runMu.Lock()
	defer q.runMu.Unlock()
	if q.run != nil {
		return fmt.Errorf("queue: output %q is already started", name)
	}
	q.mu.Lock()
	q.opts = o
	q.mu.Unlock()
	if err := q.rewind(); err != nil {
		return fmt.Errorf("queue: output %q: %w", name, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{out: out, opts: o, stopTaking: make(chan struct{}), sendCtx: ctx, cancelSend: cancel}
	q.run = r
	q.running.Store(true)
	r.wg.Add(o.Concurrency)
	for range o.Concurrency {
		go q.work(r)
	}
	q.s.log.Info("output started", "output", name, "concurrency", o.Concurrency, "batch_size", o.BatchSize)
	if o.Overflow == OverflowDropOldest {
		q.trim()
	}
	return nil
}

// rewind hands batches that stopped workers abandoned to the next workers.
// The cursor may move back over spans delivered after them, so those are
// deleted first: reads never consult the delivered log.
func (q *outQueue) rewind() error {
	q.readMu.Lock()
	defer q.readMu.Unlock()
	if err := q.checkpoint(q.settledLocked()); err != nil {
		return fmt.Errorf("delete delivered entries: %w", err)
	}
	for b := range q.outstanding {
		if b.minSeq < q.readSeq.Load() {
			q.readSeq.Store(b.minSeq)
		}
		delete(q.outstanding, b)
	}
	return nil
}

// StopOutput stops name's workers and keeps its queue on disk (config
// reload). In-flight sends may finish until ctx is done; then they are
// cancelled and their batches are delivered again after the next start.
func (s *Store) StopOutput(ctx context.Context, name string) error {
	q := s.lookup(name)
	if q == nil {
		return fmt.Errorf("queue: output %q: %w", name, ErrNotFound)
	}
	q.stop(ctx)
	return nil
}

func (q *outQueue) stop(ctx context.Context) {
	q.runMu.Lock()
	defer q.runMu.Unlock()
	r := q.run
	if r == nil {
		return
	}
	q.running.Store(false)
	close(r.stopTaking)
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		r.cancelSend()
		<-done
	}
	r.cancelSend()
	q.run = nil
	// Bounds stay as configured until the next start.
	q.s.log.Info("output stopped", "output", q.name)
}

// Stats returns a snapshot of name's queue; a name never seen reads as an
// empty, stopped queue.
func (s *Store) Stats(name string) OutputStats {
	q := s.lookup(name)
	if q == nil {
		return OutputStats{State: "stopped"}
	}
	st := OutputStats{
		Delivered:  q.delivered.Load(),
		Failed:     q.failed.Load(),
		Retries:    q.retries.Load(),
		Dropped:    q.dropped.Load(),
		Rejected:   q.rejected.Load(),
		Duplicates: q.duplicates.Load(),
		State:      "stopped",
	}
	q.mu.Lock()
	st.Depth, st.Bytes, st.DeadLetters = q.depth, q.bytes, q.dDepth
	q.mu.Unlock()
	if q.running.Load() {
		st.State = "running"
		if q.backoff.Load() > 0 {
			st.State = "backoff"
		}
	}
	if e := q.lastErr.Load(); e != nil {
		st.LastError = *e
	}
	return st
}

// scanCounters counts the output's live entries and dead letters on disk:
// after a crash the counters saved at the last clean Close are stale.
// Entries the delivered log marks are not live. It reads the whole backlog
// once (about a second per million alerts from the page cache).
func (q *outQueue) scanCounters() (counters, error) {
	q.markMu.Lock()
	marks := slices.Clone(q.marks)
	q.markMu.Unlock()
	var c counters
	for _, r := range []struct {
		prefix []byte
		n, b   *int64
		marks  []span
	}{{q.qPrefix, &c.qEntries, &c.qBytes, marks}, {q.dPrefix, &c.dEntries, &c.dBytes, nil}} {
		it, err := q.s.db.NewIter(&pebble.IterOptions{LowerBound: r.prefix, UpperBound: prefixEnd(r.prefix)})
		if err != nil {
			return c, err
		}
		for it.First(); it.Valid(); it.Next() {
			seq := seqOf(it.Key())
			for len(r.marks) > 0 && r.marks[0].hi <= seq {
				r.marks = r.marks[1:]
			}
			if len(r.marks) > 0 && r.marks[0].lo <= seq {
				continue
			}
			*r.n++
			*r.b += int64(len(it.Value()))
		}
		if err := errors.Join(it.Error(), it.Close()); err != nil {
			return c, err
		}
	}
	return c, nil
}
