package queue

import (
	"bytes"
	"cmp"
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/bloom"
)

// The uuid dedup index is a second Pebble DB beside the queue's, written
// without fsync after the queue's batch has committed.
//
// The writes are gathered for about a millisecond and made in the
// background (dedupWriter); until written, a digest is found in memory.
//
// Why apart: uuids are random, so in the queue's DB every flushed file
// spanned from the counters to the dedup keys and each L0 compaction
// rewrote the whole backlog between them; the index alone also costs a
// second pass through the commit pipeline per Enqueue only when it has
// something to write. Why unsynced and after: the index only saves
// duplicate deliveries. Writing it after the commit means a uuid is never
// remembered for an alert that was not queued (which would lose a resend);
// losing its last unsynced writes in a machine crash means a resend of
// those alerts is delivered twice, which at-least-once delivery allows.
// A process crash loses at most what Pebble had not yet handed to the
// kernel, a few milliseconds of uuids.

// dedupDir is where the index of the queue in dir lives.
func dedupDir(dir string) string { return filepath.Clean(dir) + ".dedup" }

func openDedupDB(dir string, o Options, log *slog.Logger) (*pebble.DB, error) {
	po := &pebble.Options{
		Cache:                       pebble.NewCache(4 << 20),
		MemTableSize:                8 << 20,
		MemTableStopWritesThreshold: 4,
		// Random keys: every flush overlaps the bucket's earlier ones, so
		// fewer, larger L0 compactions rewrite less.
		L0CompactionThreshold: 8,
		L0StopWritesThreshold: 64,
		MaxOpenFiles:          128,
		Logger:                pebbleLogger{log.With("db", "dedup")},
		FormatMajorVersion:    pebble.FormatNewest,
	}
	for i := range po.Levels {
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		po.Levels[i].FilterType = pebble.TableFilter
		// Digests are random bytes: compressing them costs CPU for nothing.
		po.Levels[i].Compression = pebble.NoCompression
	}
	po.EnsureDefaults()
	db, err := pebble.Open(dir, po)
	po.Cache.Unref()
	return db, err
}

// dedupEntry is one uuid digest in one bucket of the index.
type dedupEntry struct {
	bucket uint64
	digest [16]byte
}

const (
	// dedupFlushDelay is how long the writer gathers digests before one
	// write: single-alert requests then share a commit instead of each
	// paying its own trip through Pebble's commit pipeline and a write(2).
	dedupFlushDelay = time.Millisecond
	// dedupFlushItems starts a write at once.
	dedupFlushItems = 8192
)

// dedupWriter batches index writes in the background. Until a digest is
// written it stays in pending, which lookups consult before the DB, so a
// resend is recognised from the moment its first copy is queued.
type dedupWriter struct {
	s    *Store
	kick chan struct{} // capacity 1: a write is wanted

	mu      sync.Mutex
	pending map[dedupEntry]struct{}
	queue   []dedupEntry
}

func newDedupWriter(s *Store) *dedupWriter {
	return &dedupWriter{s: s, kick: make(chan struct{}, 1), pending: map[dedupEntry]struct{}{}}
}

// remember records the digests of freshly queued uuids in bucket.
func (s *Store) remember(bucket uint64, digests [][16]byte) {
	if s.ddb == nil || len(digests) == 0 {
		return
	}
	w := s.dw
	w.mu.Lock()
	first := len(w.queue) == 0
	for _, d := range digests {
		e := dedupEntry{bucket, d}
		w.pending[e] = struct{}{}
		w.queue = append(w.queue, e)
	}
	full := len(w.queue) >= dedupFlushItems
	w.mu.Unlock()
	if first || full {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
}

// isPending reports whether e is remembered but not written yet.
func (w *dedupWriter) isPending(e dedupEntry) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.pending[e]
	return ok
}

// run writes what remember gathers until ctx ends, then writes the rest.
func (w *dedupWriter) run(ctx context.Context) {
	if w.s.ddb == nil {
		return
	}
	t := time.NewTimer(0)
	<-t.C
	for {
		select {
		case <-ctx.Done():
			w.flush()
			return
		case <-w.kick:
		}
		w.mu.Lock()
		full := len(w.queue) >= dedupFlushItems
		w.mu.Unlock()
		if !full {
			t.Reset(dedupFlushDelay)
			select {
			case <-t.C:
			case <-w.kick:
				if !t.Stop() {
					<-t.C
				}
			case <-ctx.Done():
				if !t.Stop() {
					<-t.C
				}
			}
		}
		w.flush()
	}
}

// flush writes the gathered digests in one unsynced batch.
func (w *dedupWriter) flush() {
	w.mu.Lock()
	batch := w.queue
	w.queue = nil
	w.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	// Random keys inserted in order: each memtable insert starts next to
	// the previous one.
	slices.SortFunc(batch, func(a, b dedupEntry) int {
		if a.bucket != b.bucket {
			return cmp.Compare(a.bucket, b.bucket)
		}
		return bytes.Compare(a.digest[:], b.digest[:])
	})
	if err := w.write(batch); err != nil {
		w.s.dedupWriteFailed(err)
	}
	w.mu.Lock()
	for _, e := range batch {
		delete(w.pending, e)
	}
	w.mu.Unlock()
}

func (w *dedupWriter) write(batch []dedupEntry) error {
	b := w.s.ddb.NewBatchWithSize(len(batch) * 40)
	defer b.Close()
	kbuf := make([]byte, 0, 25)
	for _, e := range batch {
		kbuf = dedupKey(kbuf[:0], e.bucket, e.digest)
		if err := b.Set(kbuf, nil, nil); err != nil {
			return err
		}
	}
	return b.Commit(pebble.NoSync)
}

// dedupWriteFailed logs at most every 10 s: the alerts are queued, only
// their dedup protection is missing.
func (s *Store) dedupWriteFailed(err error) {
	s.m.dedupErrors.Inc()
	if now := time.Now().UnixNano(); now-s.lastDedupLog.Load() > int64(10*time.Second) {
		s.lastDedupLog.Store(now)
		s.log.Warn("dedup index write failed; resends of the alerts just queued may be delivered twice", "err", err)
	}
}
