package queue

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"slices"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/bloom"
)

// The uuid dedup index is a second Pebble DB beside the queue's, written
// without fsync after the queue's batch has committed.
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

// remember records the digests of freshly queued uuids in bucket.
func (s *Store) remember(bucket uint64, digests [][16]byte) {
	if s.ddb == nil || len(digests) == 0 {
		return
	}
	// Random keys inserted in order: each memtable insert starts next to
	// the previous one.
	slices.SortFunc(digests, func(a, b [16]byte) int { return bytes.Compare(a[:], b[:]) })
	b := s.ddb.NewBatchWithSize(len(digests) * 40)
	defer b.Close()
	kbuf := make([]byte, 0, 25)
	for _, d := range digests {
		kbuf = dedupKey(kbuf[:0], bucket, d)
		if err := b.Set(kbuf, nil, nil); err != nil {
			s.dedupWriteFailed(err)
			return
		}
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		s.dedupWriteFailed(err)
	}
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
