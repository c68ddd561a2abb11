package queue

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"
)

// scratchFiles lists the dedup index's scratch dir.
func scratchFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dedupScratchDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// indexOnlyStore opens a store whose in-memory dedup filters are saturated,
// so every lookup goes to the index on disk, and queues n uuids to output
// "a".
func indexOnlyStore(t *testing.T, dir, prefix string, n int) (*Store, []string) {
	t.Helper()
	s := openStore(t, dir, time.Hour)
	s.filter = newDedupFilter(0)
	ids := uuids(prefix, n)
	enqueue(t, s, "a", ids...)
	return s, ids
}

// Remembered digests are ingested as sstables (the memtable stays empty),
// found on disk once they left memory, and the scratch dir is left empty.
func TestDedupIngest(t *testing.T) {
	dir := t.TempDir()
	s, ids := indexOnlyStore(t, dir, "ing", 3000)
	defer s.Close()
	enqueue(t, s, "b", ids[:10]...)
	s.dw.flush()
	if n := s.dw.pendingLen(); n != 0 {
		t.Fatalf("%d digests still pending after flush", n)
	}
	m := s.ddb.Metrics()
	if m.Ingest.Count == 0 {
		t.Fatal("nothing ingested")
	}
	// Nothing went through the memtable, and no ingest overlapped it
	// (which would force a flush).
	if m.MemTable.Count != 1 || m.WAL.BytesIn != 0 || m.Flush.Count != 0 {
		t.Fatalf("index written through the memtable: %d memtables, %d WAL bytes, %d flushes",
			m.MemTable.Count, m.WAL.BytesIn, m.Flush.Count)
	}
	if f := scratchFiles(t, dir); len(f) != 0 {
		t.Fatalf("scratch dir not empty: %v", f)
	}
	got := enqueue(t, s, "a", ids[0], ids[1500], ids[2999], "ing-new")
	if fmt.Sprint(got) != "[duplicate duplicate duplicate queued]" {
		t.Fatalf("after ingest: %v", got)
	}
	if got := enqueue(t, s, "b", ids[5], ids[10]); fmt.Sprint(got) != "[duplicate queued]" {
		t.Fatalf("other output: %v", got)
	}
	// A batch with the same digest twice (only possible across failed
	// commits) still makes a valid sstable.
	d := dedupDigest("a", "twice")
	s.remember(s.bucket(time.Now()), [][16]byte{d, d})
	s.dw.flush()
	if v := metricValue(s.m.dedupErrors); v != 0 {
		t.Fatalf("%v index errors", v)
	}
	if got := enqueue(t, s, "a", "twice"); got[0] != Duplicate {
		t.Fatalf("twice: %v", got[0])
	}
}

// uuids remembered just before a clean Close (still gathering in memory)
// are duplicates after the next Open: Close ingests them.
func TestDedupSurvivesCleanRestart(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, time.Hour)
	ids := uuids("restart", 500)
	enqueue(t, s, "a", ids...)
	if !s.dw.isPending(dedupEntry{s.bucket(time.Now()), dedupDigest("a", ids[0])}) {
		t.Log("already ingested before Close (slow machine); the test still checks the restart")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir, time.Hour)
	defer s.Close()
	got := enqueue(t, s, "a", ids[0], ids[250], ids[499], "restart-new")
	if fmt.Sprint(got) != "[duplicate duplicate duplicate queued]" {
		t.Fatalf("after restart: %v", got)
	}
}

// Open removes what a crash left in the scratch dir.
func TestDedupScratchCleanedAtOpen(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, time.Hour)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	left := filepath.Join(dedupScratchDir(dir), "7.sst")
	if err := os.WriteFile(left, []byte("half-written"), 0o600); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir, time.Hour)
	defer s.Close()
	if f := scratchFiles(t, dir); len(f) != 0 {
		t.Fatalf("leftovers after Open: %v", f)
	}
	if got := enqueue(t, s, "a", "x", "x"); fmt.Sprint(got) != "[queued duplicate]" {
		t.Fatalf("after Open: %v", got)
	}
}

// Expired buckets are deleted, and their ingested sstables leave the disk.
func TestDedupExpiryRemovesIngested(t *testing.T) {
	const window = 80 * time.Millisecond // buckets of 10ms, swept every 10ms
	s := openStore(t, t.TempDir(), window)
	defer s.Close()
	for i := range 5 {
		enqueue(t, s, "a", uuids(fmt.Sprintf("exp%d", i), 200)...)
		s.dw.flush()
		time.Sleep(15 * time.Millisecond)
	}
	if s.ddb.Metrics().Ingest.Count < 5 {
		t.Fatalf("%d ingests, want 5", s.ddb.Metrics().Ingest.Count)
	}
	var oldest uint64
	// live reports whether any sstable still holds digests of an expired
	// bucket, or an iterator still finds one.
	live := func() bool {
		oldest = s.oldestBucket(time.Now())
		end := dedupBucketKey(oldest)
		tables, err := s.ddb.SSTables(pebble.WithProperties())
		if err != nil {
			t.Fatal(err)
		}
		for _, level := range tables {
			for _, tb := range level {
				points := tb.Properties.NumEntries - tb.Properties.NumRangeDeletions
				if points > 0 && bytes.Compare(tb.Smallest.UserKey, end) < 0 {
					return true
				}
			}
		}
		it, err := s.ddb.NewIter(&pebble.IterOptions{LowerBound: dedupBucketKey(0), UpperBound: end})
		if err != nil {
			t.Fatal(err)
		}
		defer it.Close()
		return it.First()
	}
	eventually(t, 5*time.Second, "expired sstables removed", func() bool { return !live() })
	if oldest == 0 {
		t.Fatal("no bucket expired")
	}
	if got := enqueue(t, s, "a", "exp0-000000"); got[0] != Queued {
		t.Fatalf("after expiry: %v", got)
	}
}

// A failed sstable write or ingest is counted, leaves nothing behind and
// does not fail Enqueue: only the dedup protection of that batch is lost.
func TestDedupIngestFailure(t *testing.T) {
	for _, tc := range []struct {
		name   string
		inject func(t *testing.T, s *Store, dir string)
	}{
		{"write", func(t *testing.T, _ *Store, dir string) {
			// A file where the scratch dir should be: creating the sstable fails.
			if err := os.RemoveAll(dedupScratchDir(dir)); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dedupScratchDir(dir), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"ingest", func(_ *testing.T, s *Store, _ string) {
			s.dw.ingest = func([]string) error { return errors.New("injected") }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openStore(t, dir, time.Hour)
			defer s.Close()
			tc.inject(t, s, dir)
			got := enqueue(t, s, "a", "f1", "f2")
			if fmt.Sprint(got) != "[queued queued]" {
				t.Fatalf("enqueue: %v", got)
			}
			s.dw.flush()
			if v := metricValue(s.m.dedupErrors); v != 1 {
				t.Fatalf("dedup errors %v, want 1", v)
			}
			if n := s.dw.pendingLen(); n != 0 {
				t.Fatalf("%d digests still pending after a failed flush", n)
			}
			if tc.name == "ingest" {
				if f := scratchFiles(t, dir); len(f) != 0 {
					t.Fatalf("leftovers after a failed ingest: %v", f)
				}
			}
			// The alerts are queued; their resend is no longer recognised.
			if got := enqueue(t, s, "a", "f1"); got[0] != Queued {
				t.Fatalf("resend after a failed ingest: %v", got[0])
			}
			if st := s.Stats("a"); st.Depth != 3 {
				t.Fatalf("depth %d, want 3", st.Depth)
			}
		})
	}
}

// Lookups use every table's Bloom filter, the last level's too: DB.Get
// skipped those, and read index and data blocks for each absent digest.
// They are counted in lanner_queue_dedup_index_reads_total.
func TestDedupLookupUsesLastLevelFilters(t *testing.T) {
	s, ids := indexOnlyStore(t, t.TempDir(), "l6", 2000)
	defer s.Close()
	s.dw.flush()
	if err := s.ddb.Compact([]byte{kindDedup}, []byte{kindDedup + 1}, true); err != nil {
		t.Fatal(err)
	}
	if m := s.ddb.Metrics(); m.Levels[6].NumFiles == 0 {
		t.Fatalf("the index is not in the last level: %s", m)
	}
	filterHits := func() int64 { return s.ddb.Metrics().Filter.Hits }
	bucket := s.bucket(time.Now())
	fresh := uuids("l6-new", 200)
	// DB.Get, as lookups were made before: the last level's filter unused.
	before := filterHits()
	for _, id := range fresh {
		if _, closer, err := s.ddb.Get(dedupKey(nil, bucket, dedupDigest("a", id))); err == nil {
			closer.Close()
		}
	}
	if hits := filterHits() - before; hits != 0 {
		t.Logf("DB.Get used the last level's filter %d times (Pebble changed?)", hits)
	}
	reads0 := metricValue(s.m.dedupLookups)
	before = filterHits()
	for _, o := range enqueue(t, s, "a", fresh...) {
		if o != Queued {
			t.Fatalf("a new uuid was not queued: %v", o)
		}
	}
	if reads := metricValue(s.m.dedupLookups) - reads0; reads != float64(len(fresh)) {
		t.Errorf("%v index reads, want %d", reads, len(fresh))
	}
	// Each absent digest is turned away by the table's filter, but for
	// its ~1% false positives.
	if hits := filterHits() - before; hits < int64(len(fresh))*9/10 {
		t.Errorf("%d of %d lookups answered by the table filter", hits, len(fresh))
	}
	if got := enqueue(t, s, "a", ids[0], ids[1999]); fmt.Sprint(got) != "[duplicate duplicate]" {
		t.Fatalf("uuids in the last level: %v", got)
	}
}

// An index written before the dedup DB had its own comparer (Pebble's
// default, without Split) opens and answers lookups unchanged.
func TestDedupIndexFromDefaultComparer(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	old, err := pebble.Open(dedupDir(dir), &pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	probe := openStore(t, t.TempDir(), time.Hour) // for the bucket arithmetic
	bucket := probe.bucket(now)
	_ = probe.Close()
	if err := old.Set(dedupKey(nil, bucket, dedupDigest("a", "before")), nil, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	s := openStore(t, dir, time.Hour) // its filters are rebuilt from the index
	defer s.Close()
	if got := enqueue(t, s, "a", "before", "after"); fmt.Sprint(got) != "[duplicate queued]" {
		t.Fatalf("after reopening with the dedup comparer: %v", got)
	}
}
