// Package queue is lanner-router's durable, per-output delivery queue.
//
// One Pebble DB holds every output's queue, its dead letters and persisted
// counters, so that one atomic, fsync'd batch enqueues an alert for all the
// outputs it routes to. The uuid dedup index lives in a second Pebble DB
// next to it, written by sstable ingestion (see dedupdb.go). Each started
// output has its own workers that pull batches from disk, send them once
// through outputs.Output, retry with backoff and move what cannot be
// delivered to the output's dead letters. Delivery is at-least-once: an
// entry leaves the queue only after its output accepted it.
package queue

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/prometheus/client_golang/prometheus"
)

// Errors callers can test with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrClosed   = errors.New("queue store is closed")
	ErrFull     = errors.New("queue is full")
)

// Defaults of Options.
const (
	DefaultDedupWindow   = time.Hour
	DefaultCacheSize     = 16 << 20
	DefaultMemTableSize  = 8 << 20
	DefaultShutdownGrace = 5 * time.Second
)

// Options configure Open.
type Options struct {
	Dir        string // e.g. <data-dir>/queue
	Logger     *slog.Logger
	Registerer prometheus.Registerer // metrics are registered here; nil: a private registry
	// DedupWindow is how long an alert uuid is remembered per output: a
	// second copy within the window is reported Duplicate and not queued.
	// 0 means DefaultDedupWindow; a negative value turns dedup off.
	DedupWindow time.Duration

	// Tuning; zero values take the defaults above.
	CacheSize     int64         // Pebble block cache
	MemTableSize  uint64        // one Pebble memtable; up to 4 may exist at once
	ShutdownGrace time.Duration // how long Close lets in-flight sends finish
}

// Store is the queue of every output. It is safe for concurrent use.
type Store struct {
	dir    string
	db     *pebble.DB
	ddb    *pebble.DB // dedup index; nil when dedup is off
	log    *slog.Logger
	m      *metrics
	window time.Duration // dedup window; <= 0: off
	grace  time.Duration
	// markStep is how many settled entries make a checkpoint due
	// (marks.go); tests lower it.
	markStep uint64

	// closeMu: every DB operation holds it for reading; Close for writing,
	// so no operation touches the DB after it is closed.
	closeMu sync.RWMutex
	closed  bool

	mu   sync.Mutex
	outs map[string]*outQueue

	filter       *dedupFilter
	lastDedupLog atomic.Int64

	dw *dedupWriter // writes ddb in the background

	arenas sync.Pool // Enqueue's encode buffers (arenas)
	comb   *combiner // combines small Enqueues into shared commits

	// stopBackground ends the dedup sweep and writer goroutines;
	// backgroundDone is closed when both returned.
	stopBackground context.CancelFunc
	backgroundDone chan struct{}
}

// Open opens (or creates) the store in o.Dir and recovers every output's
// queue from disk. Workers start only with StartOutput.
func Open(o Options) (*Store, error) {
	if o.Dir == "" {
		return nil, errors.New("queue: Options.Dir is empty")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.DedupWindow == 0 {
		o.DedupWindow = DefaultDedupWindow
	}
	if o.CacheSize <= 0 {
		o.CacheSize = DefaultCacheSize
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = DefaultMemTableSize
	}
	if o.ShutdownGrace <= 0 {
		o.ShutdownGrace = DefaultShutdownGrace
	}
	if err := os.MkdirAll(o.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, fmt.Errorf("queue: metrics: %w", err)
	}
	log := o.Logger.With("component", "queue")
	// Set once the queues are loaded: rotations during Open concern entries
	// that recover counts as old anyway.
	var rotated atomic.Pointer[Store]
	po := pebbleOptions(o, m, log, func() {
		if s := rotated.Load(); s != nil {
			s.memtableRotated()
		}
	})
	db, err := pebble.Open(filepath.Clean(o.Dir), po)
	// Pebble holds its own reference to the cache from Open on.
	po.Cache.Unref()
	if err != nil {
		return nil, fmt.Errorf("queue: open %s: %w", o.Dir, err)
	}
	s := &Store{dir: o.Dir, db: db, log: log, m: m, window: o.DedupWindow, grace: o.ShutdownGrace, markStep: markStep,
		outs: map[string]*outQueue{}, filter: newDedupFilter(DefaultDedupMemory), comb: newCombiner()}
	s.filter.evicted = func(bucket uint64) {
		m.dedupEvicted.Inc()
		log.Warn("dedup filter memory cap reached: forgetting the oldest uuids, so resends of alerts queued before the cutoff are delivered again; a shorter dedup window needs less memory",
			"cap_bytes", DefaultDedupMemory, "cutoff", s.bucketStart(bucket+1))
	}
	s.filter.saturated = func(bucket uint64) {
		m.dedupFilterFull.Inc()
		log.Warn("dedup filter memory cap reached by the newest uuids alone: their lookups now read the disk index, so ingest slows; a shorter dedup window needs less memory",
			"cap_bytes", DefaultDedupMemory, "bucket_start", s.bucketStart(bucket))
	}
	if err := o.Registerer.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "lanner_queue_dedup_window_seconds",
		Help: "How far back a resent uuid is still recognised: the dedup window, or less once the filters' memory cap forgot the oldest uuids (0: dedup off).",
	}, func() float64 { return s.effectiveDedupWindow(time.Now()).Seconds() })); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("queue: metrics: %w", err)
	}
	if h := db.Metrics().LogWriter.FsyncLatency; h != nil {
		if err := o.Registerer.Register(newWALSyncCollector(h)); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("queue: metrics: %w", err)
		}
	}
	scratch := dedupScratchDir(o.Dir)
	if s.window > 0 {
		if s.ddb, err = openDedupDB(dedupDir(o.Dir), scratch, o, log); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("queue: open dedup index: %w", err)
		}
	}
	if err := s.applyMarks(); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("queue: apply delivered logs: %w", err)
	}
	if err := s.load(); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("queue: recover: %w", err)
	}
	rotated.Store(s)
	s.dw = newDedupWriter(s, scratch)
	ctx, cancel := context.WithCancel(context.Background())
	s.stopBackground, s.backgroundDone = cancel, make(chan struct{})
	go func() {
		defer close(s.backgroundDone)
		var wg sync.WaitGroup
		wg.Go(func() { s.sweepDedup(ctx) })
		wg.Go(func() { s.dw.run(ctx) })
		wg.Wait()
	}()
	for _, name := range s.Outputs() {
		st := s.Stats(name)
		log.Info("queue recovered", "output", name, "depth", st.Depth, "bytes", st.Bytes, "dead_letters", st.DeadLetters)
	}
	return s, nil
}

// pebbleOptions keeps memory bounded: a small block cache and at most four
// small memtables, whatever the backlog. No Bloom filters: the queue is read
// by iterating, and its few point reads (dead letters, the clean mark) look
// for keys that exist.
//
// Pebble charges its memtables to the block cache, so under write load two
// memtables take the whole 16 MiB and the cache holds no block: entries are
// read once, in order, and a cache with room for them too (32 and 48 MiB)
// measured no faster, with 50–100 MiB more RSS (BENCHMARKS.md, session 10).
func pebbleOptions(o Options, m *metrics, log *slog.Logger, rotated func()) *pebble.Options {
	cache := pebble.NewCache(o.CacheSize)
	po := &pebble.Options{
		Cache:                       cache,
		MemTableSize:                o.MemTableSize,
		MemTableStopWritesThreshold: 4,
		// Every flush's file overlaps the previous ones (the random dedup
		// keys and the counter keys span the key space), so each L0→Lbase
		// compaction rewrites all of L0: waiting for 8 files instead of 4,
		// and a larger Lbase, measured ~15% less CPU per batched alert.
		L0CompactionThreshold:    8,
		LBaseMaxBytes:            256 << 20,
		L0StopWritesThreshold:    64,
		MaxOpenFiles:             256,
		MaxConcurrentCompactions: func() int { return 2 },
		Merger:                   counterMerger(),
		Logger:                   pebbleLogger{log},
		EventListener:            eventListener(m, log, rotated),
		FormatMajorVersion:       pebble.FormatNewest,
		// No WALMinSyncInterval: a pause after each fsync let the next one
		// cover more commits (~10% less CPU per single-alert Enqueue when
		// delivery cost twice what it does now), but it adds to every
		// waiting ack, and 64 single-alert senders are bound by that wait:
		// without it +2–9% alerts/s in 5 of 5 pairs, the same CPU per alert
		// with 256 senders (BENCHMARKS.md, session 8).
	}
	// 64 KiB data blocks, not Pebble's 4 KiB: the queue reads its files in
	// order, and a worker behind the ingest read each ~4 alerts' block with
	// a pread and a snappy call of its own. With the larger blocks, gRPC
	// ingest with delivery alongside measured +13–20% alerts/s and ~15%
	// less CPU per alert (BENCHMARKS.md, session 12). The few point reads
	// (a dead letter, the clean mark) read one block, at most 64 KiB.
	po.Levels = []pebble.LevelOptions{{BlockSize: 64 << 10}}
	po.EnsureDefaults()
	return po
}

// eventListener counts Pebble's write stalls (memtables or L0 filling
// faster than they are flushed or compacted), when every commit waits, and
// calls rotated when Pebble starts a new memtable. Pebble starts a new WAL
// with each memtable, inside the commit pipeline: no commit runs between
// the switch and the WALCreated event.
func eventListener(m *metrics, log *slog.Logger, rotated func()) *pebble.EventListener {
	var began atomic.Int64 // unix nanos of the stall in progress
	return &pebble.EventListener{
		WALCreated: func(pebble.WALCreateInfo) { rotated() },
		WriteStallBegin: func(info pebble.WriteStallBeginInfo) {
			began.Store(time.Now().UnixNano())
			m.writeStalls.Inc()
			log.Debug("queue storage stalls writes", "reason", info.Reason)
		},
		WriteStallEnd: func() {
			if t := began.Swap(0); t != 0 {
				m.writeStallSeconds.Add(time.Since(time.Unix(0, t)).Seconds())
			}
		},
	}
}

// pebbleLogger routes Pebble's chatter to slog at debug level.
type pebbleLogger struct{ log *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...), "source", "pebble")
}

// Fatalf: Pebble calls it on unrecoverable corruption and expects it not to
// return.
func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.log.Error(msg, "source", "pebble")
	panic("pebble: " + msg)
}

// load rebuilds the in-memory state of every output found on disk.
func (s *Store) load() error {
	if old, err := s.hasKeys(kindCounter); err != nil || old {
		if err == nil {
			err = errors.New("the directory holds a queue in the first on-disk layout (before the dedup index moved out); deliver or move it away with the Lanner version that wrote it")
		}
		return err
	}
	clean, err := s.has(cleanKey)
	if err != nil {
		return err
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{kindOutput}, UpperBound: []byte{kindOutput + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		name := string(k[1 : len(k)-1])
		q := s.newOutQueue(name)
		c, err := decodeCounters(it.Value())
		if !clean || err != nil {
			// Not closed cleanly (or closed before anything was saved):
			// count what is on disk.
			if c, err = q.scanCounters(); err != nil {
				return fmt.Errorf("output %q: count entries: %w", name, err)
			}
		}
		if err := q.recover(c); err != nil {
			return fmt.Errorf("output %q: %w", name, err)
		}
		q.onDisk.Store(true)
		s.outs[name] = q
	}
	if err := it.Error(); err != nil {
		return err
	}
	if clean {
		// From now on the saved counters go stale: a crash must rescan.
		if err := s.db.Delete(cleanKey, pebble.Sync); err != nil {
			return err
		}
	}
	return s.loadDedup()
}

// memtableRotated records, for every output, that the entries allocated
// from now on are committed to the new memtable (see outQueue.memLow). It
// runs inside Pebble's commit pipeline, where no caller of this package
// holds s.mu or q.mu.
func (s *Store) memtableRotated() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, q := range s.outs {
		q.mu.Lock()
		q.memLow.Store(q.nextSeq)
		q.mu.Unlock()
	}
}

// has reports whether key exists.
func (s *Store) has(key []byte) (bool, error) {
	_, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, closer.Close()
}

// saveCounters writes every output's counters and the clean mark in one
// synced batch. Close calls it once nothing else writes.
func (s *Store) saveCounters() error {
	b := s.db.NewBatch()
	defer b.Close()
	for _, name := range s.Outputs() {
		q := s.lookup(name)
		if q == nil || !q.onDisk.Load() {
			continue
		}
		q.mu.Lock()
		c := counters{q.depth, q.bytes, q.dDepth, q.dBytes}
		q.mu.Unlock()
		if err := b.Set(q.oKey, c.encode(), nil); err != nil {
			return err
		}
	}
	if err := b.Set(cleanKey, nil, nil); err != nil {
		return err
	}
	return b.Commit(pebble.Sync)
}

// hasKeys reports whether any key of the given kind exists.
func (s *Store) hasKeys(kind byte) (bool, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{kind}, UpperBound: []byte{kind + 1}})
	if err != nil {
		return false, err
	}
	found := it.First()
	return found, errors.Join(it.Error(), it.Close())
}

// loadDedup fills the in-memory filter from the live dedup buckets.
func (s *Store) loadDedup() error {
	if s.window <= 0 {
		return nil
	}
	it, err := s.ddb.NewIter(&pebble.IterOptions{LowerBound: dedupBucketKey(s.oldestBucket(time.Now())), UpperBound: []byte{kindDedup + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		if len(k) != 25 {
			continue
		}
		s.filter.add(binary.BigEndian.Uint64(k[1:9]), binary.BigEndian.Uint64(k[9:17]))
	}
	return it.Error()
}

// out returns the queue of name, creating it on first use: alerts may be
// queued for an output before it is started.
func (s *Store) out(name string) (*outQueue, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q, ok := s.outs[name]; ok {
		return q, nil
	}
	if err := validName(name); err != nil {
		return nil, err
	}
	q := s.newOutQueue(name)
	q.nextSeq, q.headSeq = 1, 1
	q.readSeq.Store(1)
	q.committed.Store(1)
	s.outs[name] = q
	return q, nil
}

func (s *Store) lookup(name string) *outQueue {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.outs[name]
}

// Outputs lists, sorted, every output that was started or has anything
// queued or dead-lettered on disk.
func (s *Store) Outputs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.outs))
	for n := range s.outs {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Close stops every output's workers (in-flight batches get ShutdownGrace to
// finish, then are abandoned and retried after the next start), flushes and
// closes the DB. Outputs handed to StartOutput are not closed: their owner
// closes them after Close returns.
func (s *Store) Close() error {
	s.closeMu.RLock()
	closed := s.closed
	s.closeMu.RUnlock()
	if closed {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.grace)
	defer cancel()
	for _, name := range s.Outputs() {
		if q := s.lookup(name); q != nil {
			q.stop(ctx)
		}
	}
	s.stopBackground()
	<-s.backgroundDone

	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	// Enqueues that ran after the background writer stopped left their
	// uuids here; none can follow now.
	if s.ddb != nil {
		s.dw.flush()
	}
	s.retireMarks()
	if err := s.saveCounters(); err != nil {
		// The next Open counts the entries instead.
		s.log.Warn("queue: saving counters on close failed", "err", err)
	}
	if err := s.db.Flush(); err != nil {
		s.log.Warn("queue flush on close failed", "err", err)
	}
	return s.closeDBs()
}

// retireMarks deletes what every output delivered since its last
// checkpoint and removes the delivered logs, durably. A log whose
// checkpoint failed stays for the next Open. The caller holds closeMu.
func (s *Store) retireMarks() {
	for _, name := range s.Outputs() {
		q := s.lookup(name)
		q.readMu.Lock()
		err := q.retireMarks(q.settledLocked())
		q.readMu.Unlock()
		if err != nil {
			s.log.Warn("queue: final checkpoint failed; the next start applies the delivered log", "output", name, "err", err)
		}
	}
	if err := syncDir(marksDir(s.dir)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("queue: syncing the delivered logs' directory failed", "err", err)
	}
}

func (s *Store) closeDBs() error {
	var errs []error
	if s.ddb != nil {
		if err := s.ddb.Close(); err != nil {
			errs = append(errs, fmt.Errorf("queue: close dedup index: %w", err))
		}
	}
	if err := s.db.Close(); err != nil {
		errs = append(errs, fmt.Errorf("queue: close: %w", err))
	}
	return errors.Join(errs...)
}

// begin guards a DB operation against a concurrent Close.
func (s *Store) begin() error {
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return ErrClosed
	}
	return nil
}

func (s *Store) end() { s.closeMu.RUnlock() }

// sweepDedup deletes whole expired dedup buckets with one range tombstone,
// so expiry costs nothing per uuid.
func (s *Store) sweepDedup(ctx context.Context) {
	if s.window <= 0 {
		return
	}
	t := time.NewTicker(min(s.bucketDur(), time.Minute))
	defer t.Stop()
	done := uint64(0) // buckets before it are deleted
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		oldest := s.oldestBucket(time.Now())
		if oldest <= done {
			continue
		}
		if err := s.begin(); err != nil {
			return
		}
		err := s.expireDedup(oldest)
		s.end()
		if err == nil {
			done = oldest
		}
		s.filter.expire(oldest)
		if err != nil {
			s.log.Warn("dedup expiry failed", "err", err)
		}
	}
}

// The dedup window is cut into dedupSpan buckets. Uuids land in the bucket
// of their enqueue time and are looked up in the current and the dedupSpan
// previous buckets, so one is remembered for at least the window and at
// most 1+1/dedupSpan of it. Buckets are key ranges in time order: uuids are
// random, so new index entries only ever overlap the current bucket's, and
// compactions leave older buckets alone.
const dedupSpan = 8

func (s *Store) bucketDur() time.Duration {
	return max(s.window/dedupSpan, time.Millisecond)
}

// bucketStart is when bucket begins.
func (s *Store) bucketStart(bucket uint64) time.Time {
	return time.Unix(0, int64(bucket)*int64(s.bucketDur())).UTC()
}

func (s *Store) bucket(t time.Time) uint64 {
	return uint64(t.UnixNano() / int64(s.bucketDur()))
}

// effectiveDedupWindow is how far back a resend is recognised at now: the
// dedup window, or less since the filters' memory cap forgot buckets.
func (s *Store) effectiveDedupWindow(now time.Time) time.Duration {
	if s.window <= 0 {
		return 0
	}
	w := s.window
	if b, ok := s.filter.forgotten(); ok {
		w = min(w, max(now.Sub(s.bucketStart(b+1)), 0))
	}
	return w
}

// oldestBucket is the oldest bucket still inside the window at t.
func (s *Store) oldestBucket(t time.Time) uint64 {
	cur := s.bucket(t)
	if cur < dedupSpan {
		return 0
	}
	return cur - dedupSpan
}
