package queue

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/bloom"
	"github.com/cockroachdb/pebble/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/sstable"
	"github.com/cockroachdb/pebble/vfs"
)

// The uuid dedup index is a second Pebble DB beside the queue's. Its
// entries are not written through the memtable: the digests of freshly
// queued uuids are gathered in memory for up to about a second, sorted,
// written as one sstable per bucket into a scratch dir and ingested
// (DB.Ingest). Until then a digest is found in memory (dedupWriter.pending).
//
// Why ingestion: random keys made every memtable insert a skiplist search
// with cache misses (~2.8 CPU-µs per alert, 5–8% of the router's cost per
// alert); sorted keys appended to an sstable cost a fraction of that, and
// the file is written once instead of once to the WAL and once by a flush.
//
// Why apart from the queue's DB: uuids are random, so there every flushed
// file spanned from the counters to the dedup keys and each L0 compaction
// rewrote the whole backlog between them.
//
// Crash semantics: a uuid is remembered only after its alert's queue batch
// committed, so it is never remembered for an alert that was not queued
// (which would lose a resend). An ingested sstable is fsync'd and recorded in
// Pebble's synced MANIFEST, so once ingested it survives a process crash and
// a power cut. What a crash (kill -9, OOM, panic, power cut) loses is what
// was still gathering in memory or being ingested: the uuids queued in about
// the last second (dedupFlushDelay). A resend of those alerts after the
// restart is delivered a second time, which at-least-once delivery allows.
// That is the right trade: the index only saves duplicate deliveries, a
// resend within a second of a crash is rare, and the gathering is what makes
// the index cheap. A failed write or ingest loses the dedup protection of
// that batch only (counted, logged), never an alert. Expiry (one range
// deletion per bucket) still goes through the DB's own, unsynced WAL; a lost
// deletion is simply made again by the next sweep.

// dedupDir is where the index of the queue in dir lives.
func dedupDir(dir string) string { return filepath.Clean(dir) + ".dedup" }

// dedupScratchDir is where sstables are written before being ingested: on
// the same filesystem as the index, so that ingestion is a hard link.
func dedupScratchDir(dir string) string { return filepath.Clean(dir) + ".dedup.tmp" }

// dedupFilterBits is the index's sstable Bloom filter, bits per key.
const dedupFilterBits = 10

func dedupLevelOptions() pebble.LevelOptions {
	return pebble.LevelOptions{
		FilterPolicy: bloom.FilterPolicy(dedupFilterBits),
		FilterType:   pebble.TableFilter,
		// Digests are random bytes: compressing them costs CPU for nothing.
		Compression: pebble.NoCompression,
	}
}

// dedupComparer is Pebble's default byte order with a Split that makes a
// whole key its own prefix: lookups go through SeekPrefixGE (see
// Store.seen), which needs one. The name and the order are the default's,
// and a table's filter keys are whole keys either way, so an index written
// before opens and reads unchanged.
func dedupComparer() *pebble.Comparer {
	c := *pebble.DefaultComparer
	c.Split = func(key []byte) int { return len(key) }
	return &c
}

func openDedupDB(dir, scratch string, o Options, log *slog.Logger) (*pebble.DB, error) {
	// Leftovers of a crash during a write or an ingest: never ingested (or
	// already linked into the DB), so of no use.
	if err := os.RemoveAll(scratch); err != nil {
		return nil, fmt.Errorf("clean %s: %w", scratch, err)
	}
	if err := os.MkdirAll(scratch, 0o750); err != nil {
		return nil, err
	}
	po := &pebble.Options{
		Comparer:                    dedupComparer(),
		Cache:                       pebble.NewCache(4 << 20),
		MemTableSize:                8 << 20,
		MemTableStopWritesThreshold: 4,
		// Each ingest (about one a second) overlaps the current bucket's
		// earlier ones, so each adds an L0 sublevel, and every L0→base
		// compaction rewrites the bucket's data there. Waiting for 64
		// sublevels keeps those rewrites as rare as with the memtable
		// flushes they replace (8 sublevels of ~8 MB at 20k uuids/s). The
		// read amplification costs little: lookups are rare (the in-memory
		// filter answers most) and older buckets' key ranges leave L0.
		L0CompactionThreshold: 64,
		// Only the expiry's range deletions are written through the
		// memtable; ingestion never waits for this.
		L0StopWritesThreshold: 256,
		MaxOpenFiles:          128,
		Logger:                pebbleLogger{log.With("db", "dedup")},
		FormatMajorVersion:    pebble.FormatNewest,
	}
	// One entry applies to every level (Options.Level). Set before
	// EnsureDefaults, which would leave a nil Levels as one default entry:
	// without this, no table of the index had a filter Pebble would read,
	// and every lookup read index and data blocks from each table.
	po.Levels = []pebble.LevelOptions{dedupLevelOptions()}
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

// cmpDedupEntry orders entries as their keys (dedupKey) sort.
func cmpDedupEntry(a, b dedupEntry) int {
	if c := cmp.Compare(a.bucket, b.bucket); c != 0 {
		return c
	}
	if c := cmp.Compare(binary.BigEndian.Uint64(a.digest[:8]), binary.BigEndian.Uint64(b.digest[:8])); c != 0 {
		return c
	}
	return cmp.Compare(binary.BigEndian.Uint64(a.digest[8:]), binary.BigEndian.Uint64(b.digest[8:]))
}

const (
	// dedupFlushDelay is how long the writer gathers digests before one
	// ingest. An ingest has a fixed cost (an fsync of the file, a synced
	// MANIFEST edit, an L0 sublevel to compact later), so it should carry
	// many digests; but what is gathered is lost in a crash, so the delay
	// bounds that loss to about a second of uuids.
	dedupFlushDelay = time.Second
	// dedupFlushItems starts an ingest at once: 64k digests make an sstable
	// of about 2.5 MB, as large as a memtable flush would have been, and
	// bound the memory of pending and queue (~4 MB) and the sort.
	dedupFlushItems = 1 << 16
)

// dedupWriter ingests the index writes in the background. Until a digest is
// ingested it stays in pending, which lookups consult before the DB, so a
// resend is recognised from the moment its first copy is queued.
type dedupWriter struct {
	s       *Store
	kick    chan struct{} // capacity 1: a write is wanted
	scratch string        // dir for sstables on their way in
	wopts   sstable.WriterOptions
	files   atomic.Uint64 // names the scratch files
	// ingest is s.ddb.Ingest; tests replace it to inject failures.
	ingest func(paths []string) error

	// flushMu makes flushes (the writer's, and Close's or a test's) take
	// turns, so that writing belongs to one batch at a time.
	flushMu sync.Mutex
	mu      sync.Mutex
	// pending holds the digests of queue, writing those of the batch being
	// ingested; lookups consult both.
	pending, writing digestSet
	queue            []dedupEntry
	spare            []dedupEntry // the last batch's buffer, for the next queue
}

func newDedupWriter(s *Store, scratch string) *dedupWriter {
	w := &dedupWriter{s: s, kick: make(chan struct{}, 1), scratch: scratch}
	if s.ddb != nil {
		lo := dedupLevelOptions()
		w.wopts = sstable.WriterOptions{
			Comparer:     dedupComparer(),
			TableFormat:  s.ddb.FormatMajorVersion().MaxTableFormat(),
			FilterPolicy: lo.FilterPolicy,
			FilterType:   lo.FilterType,
			Compression:  lo.Compression,
		}
		w.ingest = s.ddb.Ingest
	}
	return w
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
		w.pending.add(e)
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

// isPending reports whether e is remembered but not ingested yet.
func (w *dedupWriter) isPending(e dedupEntry) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pending.has(e) || w.writing.has(e)
}

// pendingLen is how many digests wait for the index.
func (w *dedupWriter) pendingLen() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pending.len() + w.writing.len()
}

// run ingests what remember gathers until ctx ends, then ingests the rest.
func (w *dedupWriter) run(ctx context.Context) {
	if w.s.ddb == nil {
		return
	}
	t := time.NewTimer(dedupFlushDelay)
	t.Stop()
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
				t.Stop() // Go 1.23+ timers: no stale value is left to drain
			case <-ctx.Done():
				t.Stop()
			}
		}
		w.flush()
	}
}

// flush ingests the gathered digests, then forgets them in memory: on
// success they are found on disk, on failure their protection is lost.
func (w *dedupWriter) flush() {
	w.flushMu.Lock()
	defer w.flushMu.Unlock()
	w.mu.Lock()
	batch := w.queue
	w.queue, w.spare = w.spare[:0], nil
	// writing is empty: the previous flush emptied it.
	w.pending, w.writing = w.writing, w.pending
	w.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	slices.SortFunc(batch, cmpDedupEntry)
	// An sstable needs strictly increasing keys.
	batch = slices.Compact(batch)
	if err := w.write(batch); err != nil {
		w.s.dedupWriteFailed(err)
	}
	w.mu.Lock()
	w.writing.reset()
	if cap(batch) <= 2*dedupFlushItems {
		w.spare = batch[:0]
	}
	w.mu.Unlock()
}

// write ingests sorted, distinct entries as one sstable per bucket, so that
// expiring a bucket drops whole files.
func (w *dedupWriter) write(batch []dedupEntry) error {
	var paths []string
	defer func() {
		// Ingest removes its inputs on success; after a failure they are
		// leftovers.
		for _, p := range paths {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				w.s.log.Warn("dedup index: removing scratch file failed", "path", p, "err", err)
			}
		}
	}()
	for len(batch) > 0 {
		n := 1
		for n < len(batch) && batch[n].bucket == batch[0].bucket {
			n++
		}
		path := filepath.Join(w.scratch, strconv.FormatUint(w.files.Add(1), 10)+".sst")
		paths = append(paths, path)
		if err := w.writeTable(path, batch[:n]); err != nil {
			return err
		}
		batch = batch[n:]
	}
	if err := w.ingest(paths); err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	return nil
}

// writeTable writes one fsync'd sstable of sorted, distinct entries.
func (w *dedupWriter) writeTable(path string, entries []dedupEntry) error {
	f, err := vfs.Default.Create(path)
	if err != nil {
		return err
	}
	tw := sstable.NewWriter(objstorageprovider.NewFileWritable(f), w.wopts)
	kbuf := make([]byte, 0, 25)
	for _, e := range entries {
		kbuf = dedupKey(kbuf[:0], e.bucket, e.digest)
		if err := tw.Set(kbuf, nil); err != nil {
			_ = tw.Close()
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	// Close syncs and closes the file.
	if err := tw.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
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

// expireDedup deletes the buckets before oldest with one range deletion and
// flushes it: only range deletions go through the memtable, so it would
// otherwise never fill, and the expired sstables would stay on disk until a
// restart. Once flushed, Pebble deletes the files the deletion covers
// whole (each ingested file holds one bucket) without rewriting them.
func (s *Store) expireDedup(oldest uint64) error {
	if err := s.ddb.DeleteRange(dedupBucketKey(0), dedupBucketKey(oldest), pebble.NoSync); err != nil {
		return err
	}
	return s.ddb.Flush()
}
