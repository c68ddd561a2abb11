package queue

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lannerhq/lanner/outputs"
)

func TestAddSpan(t *testing.T) {
	for _, tc := range []struct {
		in   []span
		add  span
		want []span
	}{
		{nil, span{5, 7}, []span{{5, 7}}},
		{[]span{{5, 7}}, span{7, 9}, []span{{5, 9}}},
		{[]span{{5, 7}}, span{3, 5}, []span{{3, 7}}},
		{[]span{{5, 7}}, span{1, 3}, []span{{1, 3}, {5, 7}}},
		{[]span{{5, 7}}, span{8, 9}, []span{{5, 7}, {8, 9}}},
		{[]span{{1, 2}, {4, 5}, {7, 8}}, span{2, 7}, []span{{1, 8}}},
		{[]span{{1, 2}, {4, 5}, {7, 8}}, span{3, 6}, []span{{1, 2}, {3, 6}, {7, 8}}},
		{[]span{{1, 10}}, span{3, 4}, []span{{1, 10}}},
	} {
		got := addSpan(slices.Clone(tc.in), tc.add)
		if !slices.Equal(got, tc.want) {
			t.Errorf("addSpan(%v, %v) = %v, want %v", tc.in, tc.add, got, tc.want)
		}
	}
	es := []*entry{{seq: 9}, {seq: 4}, {seq: 5}, {seq: 7}, {seq: 6}, {seq: 12}}
	if got, want := spansOf(es), []span{{4, 8}, {9, 10}, {12, 13}}; !slices.Equal(got, want) {
		t.Errorf("spansOf = %v, want %v", got, want)
	}
}

// A log cut anywhere (a power cut mid-write) parses as a prefix of what was
// written.
func TestParseMarksCut(t *testing.T) {
	name := "web\x01hook"
	spans := []span{{1, 5}, {9, 10}, {12, 400}}
	b := appendMarkRecord(nil, markKindName, len(name), []byte(name))
	nameLen := len(b)
	b = appendSpans(b, spans[:2])
	first := len(b)
	b = appendSpans(b, spans[2:])
	for cut := 0; cut <= len(b); cut++ {
		gotName, got, unread, err := parseMarks(b[:cut])
		if cut < nameLen {
			if err == nil {
				t.Fatalf("cut %d: no error without the name record", cut)
			}
			continue
		}
		want := spans[:0]
		switch {
		case cut == len(b):
			want = spans
		case cut >= first:
			want = spans[:2]
		}
		if err != nil || gotName != name || !slices.Equal(got, want) {
			t.Fatalf("cut %d: %q %v %v, want %q %v", cut, gotName, got, err, name, want)
		}
		if wantUnread := cut - nameLen - 16*2 - markHeaderLen; cut >= first && cut < len(b) && unread != wantUnread {
			t.Fatalf("cut %d: unread %d, want %d", cut, unread, wantUnread)
		}
	}
	// A flipped bit ends the log there.
	bad := slices.Clone(b)
	bad[first+markHeaderLen+3] ^= 1
	if _, got, unread, err := parseMarks(bad); err != nil || !slices.Equal(got, spans[:2]) || unread != len(b)-first {
		t.Fatalf("corrupt record: %v unread %d %v", got, unread, err)
	}
}

func FuzzParseMarks(f *testing.F) {
	b := appendMarkRecord(nil, markKindName, 3, []byte("out"))
	f.Add(appendSpans(b, []span{{1, 2}, {5, 9}}))
	f.Add(b)
	f.Add([]byte{})
	f.Add([]byte("L\x02\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		name, spans, unread, err := parseMarks(data)
		if unread < 0 || unread > len(data) {
			t.Fatalf("unread %d of %d", unread, len(data))
		}
		if err != nil {
			return
		}
		for _, s := range spans {
			if s.lo >= s.hi {
				t.Fatalf("empty span %v", s)
			}
		}
		// What parsed encodes back to the bytes it came from.
		re := appendSpans(appendMarkRecord(nil, markKindName, len(name), []byte(name)), spans)
		if len(re) > len(data)-unread {
			t.Fatalf("re-encoded %d bytes from %d", len(re), len(data)-unread)
		}
	})
}

// gateOutput delivers at once, except batches holding a uuid that starts
// with "slow": those wait for release or for the send to be cancelled.
type gateOutput struct {
	release chan struct{}
	mu      sync.Mutex
	got     map[string]int
}

func newGateOutput() *gateOutput {
	return &gateOutput{release: make(chan struct{}), got: map[string]int{}}
}

func (o *gateOutput) Send(ctx context.Context, batch []outputs.Message) error {
	for _, m := range batch {
		if strings.HasPrefix(m.Alert.UUID, "slow") {
			select {
			case <-o.release:
			case <-ctx.Done():
				return ctx.Err()
			}
			break
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, m := range batch {
		o.got[m.Alert.UUID]++
	}
	return nil
}

func (o *gateOutput) Close() error { return nil }

func (o *gateOutput) count(prefix string) (n, dups int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for id, c := range o.got {
		if strings.HasPrefix(id, prefix) {
			n++
			dups += c - 1
		}
	}
	return n, dups
}

// flush writes the memtable to a file: the entries queued so far are then
// marked in the delivered log when delivered, not deleted in the memtable.
func flush(t *testing.T, s *Store) {
	t.Helper()
	if err := s.db.Flush(); err != nil {
		t.Fatal(err)
	}
	if q := s.lookup("out"); q.memLow.Load() != q.nextSeq {
		t.Fatalf("memLow %d after a flush, want %d", q.memLow.Load(), q.nextSeq)
	}
}

// outOfOrder queues 10 slow alerts, then 30 fast ones, on an output with
// two workers and batches of 10: one worker holds the slow batch while the
// other delivers the fast ones, so batches finish above an outstanding one.
func outOfOrder(t *testing.T, s *Store) *gateOutput {
	t.Helper()
	enqueue(t, s, "out", uuids("slow", 10)...)
	enqueue(t, s, "out", uuids("fast", 30)...)
	flush(t, s)
	o := fastOpts()
	o.Concurrency, o.BatchSize = 2, 10
	out := newGateOutput()
	if err := s.StartOutput("out", out, o); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "fast alerts delivered", func() bool { n, _ := out.count("fast"); return n == 30 })
	return out
}

// stopAbandoning stops the output at once: the slow batch is abandoned.
func stopAbandoning(t *testing.T, s *Store) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.StopOutput(ctx, "out"); err != nil {
		t.Fatal(err)
	}
}

// crashClose leaves the files as a kill -9 would: no final checkpoint, no
// saved counters, the delivered logs as written.
func crashClose(t *testing.T, s *Store) {
	t.Helper()
	s.stopBackground()
	<-s.backgroundDone
	s.closeMu.Lock()
	s.closed = true
	s.closeMu.Unlock()
	for _, name := range s.Outputs() {
		if q := s.lookup(name); q.markFile != nil {
			_ = q.markFile.Close()
		}
	}
	if err := s.closeDBs(); err != nil {
		t.Fatal(err)
	}
}

// reopen opens the store in dir (closed at the test's end) and checks that
// output "out" holds depth alerts, as its counters say, and that Open left
// no delivered log behind.
func reopen(t *testing.T, dir string, depth int64) *Store {
	t.Helper()
	s := openStore(t, dir, -1)
	t.Cleanup(func() { s.Close() })
	if st := s.Stats("out"); st.Depth != depth {
		t.Fatalf("depth %d after reopening, want %d", st.Depth, depth)
	}
	assertCounters(t, s, "out")
	if ents, _ := os.ReadDir(marksDir(dir)); len(ents) != 0 {
		t.Fatalf("delivered logs left after Open: %v", ents)
	}
	return s
}

// After a crash, entries delivered while a lower batch was still out are
// not delivered again; the lower batch is.
func TestDeliveredLogAfterCrash(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, -1)
	out := outOfOrder(t, s)
	stopAbandoning(t, s)
	crashClose(t, s)
	if _, err := os.Stat(filepath.Join(marksDir(dir), markFileName("out"))); err != nil {
		t.Fatalf("no delivered log after the crash: %v", err)
	}

	s = reopen(t, dir, 10)
	close(out.release)
	if err := s.StartOutput("out", out, fastOpts()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "slow alerts delivered", func() bool { n, _ := out.count("slow"); return n == 10 })
	if n, dups := out.count(""); n != 40 || dups != 0 {
		t.Fatalf("%d alerts delivered, %d twice; want 40, none twice", n, dups)
	}
}

// A restart of the output (a config reload) rewinds to the abandoned batch
// without delivering again what was delivered above it.
func TestRestartAfterOutOfOrderFinish(t *testing.T) {
	s := openStore(t, t.TempDir(), -1)
	defer s.Close()
	out := outOfOrder(t, s)
	stopAbandoning(t, s)
	close(out.release)
	if err := s.StartOutput("out", out, fastOpts()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "slow alerts delivered", func() bool { n, _ := out.count("slow"); return n == 10 })
	eventually(t, 5*time.Second, "queue empty", func() bool { return s.Stats("out").Depth == 0 })
	if n, dups := out.count(""); n != 40 || dups != 0 {
		t.Fatalf("%d alerts delivered, %d twice; want 40, none twice", n, dups)
	}
	assertCounters(t, s, "out")
}

// A clean Close deletes everything delivered and leaves no log behind; the
// counters it saved match the keys.
func TestCloseRetiresDeliveredLog(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, -1)
	out := outOfOrder(t, s)
	stopAbandoning(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(marksDir(dir)); len(ents) != 0 {
		t.Fatalf("delivered logs left after Close: %v", ents)
	}
	s = reopen(t, dir, 10)
	q := s.lookup("out")
	if q.headSeq != 1 {
		t.Fatalf("head %d: the slow alerts at 1..10 were deleted", q.headSeq)
	}
	if n, _ := out.count("slow"); n != 0 {
		t.Fatalf("%d slow alerts delivered", n)
	}
}

// Checkpoints keep the log short while an outstanding batch holds the
// settled prefix back.
func TestCheckpointAboveOutstandingBatch(t *testing.T) {
	s := openStore(t, t.TempDir(), -1)
	defer s.Close()
	s.markStep = 20
	out := outOfOrder(t, s)
	q := s.lookup("out")
	eventually(t, 5*time.Second, "checkpoint", func() bool {
		q.markMu.Lock()
		defer q.markMu.Unlock()
		return q.marked < 20
	})
	st, err := os.Stat(filepath.Join(marksDir(s.dir), markFileName("out")))
	if err != nil {
		t.Fatal(err)
	}
	if max := int64(markHeaderLen+len("out")) + 2*(markHeaderLen+16); st.Size() > max {
		t.Fatalf("log of %d bytes after the checkpoint, want at most %d", st.Size(), max)
	}
	assertCounters(t, s, "out")
	close(out.release)
	eventually(t, 5*time.Second, "queue empty", func() bool { return s.Stats("out").Depth == 0 })
	if n, dups := out.count(""); n != 40 || dups != 0 {
		t.Fatalf("%d alerts delivered, %d twice", n, dups)
	}
}

// A log for an output that holds garbage is reported and skipped: its
// alerts are delivered again, never lost.
func TestUnreadableLogSkipped(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, -1)
	enqueue(t, s, "out", uuids("a", 5)...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(marksDir(dir), 0o750); err != nil {
		t.Fatal(err)
	}
	// Marks all five as delivered, but under another output's file name.
	b := appendSpans(appendMarkRecord(nil, markKindName, 5, []byte("other")), []span{{1, 6}})
	if err := os.WriteFile(filepath.Join(marksDir(dir), markFileName("out")), b, 0o640); err != nil {
		t.Fatal(err)
	}
	reopen(t, dir, 5)
}

// When the delivered log cannot be written, delivered entries are deleted
// one by one, as before the log existed.
func TestDeliveredLogUnwritable(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, -1)
	// A file where the logs' directory belongs makes every write fail.
	if err := os.WriteFile(marksDir(dir), nil, 0o640); err != nil {
		t.Fatal(err)
	}
	out := newGateOutput()
	enqueue(t, s, "out", uuids("a", 50)...)
	flush(t, s)
	if err := s.StartOutput("out", out, fastOpts()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "delivery", func() bool { return s.Stats("out").Depth == 0 })
	assertCounters(t, s, "out")
	if metricValue(s.m.markErrors) == 0 {
		t.Fatal("failed delivered-log writes not counted")
	}
	crashClose(t, s)
	if err := os.Remove(marksDir(dir)); err != nil {
		t.Fatal(err)
	}
	reopen(t, dir, 0)
}

// Entries delivered while still in the current memtable are deleted there
// and never reach the delivered log; older ones are marked in it.
func TestMemtableEntriesDeletedInPlace(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, -1)
	out := newGateOutput()
	if err := s.StartOutput("out", out, fastOpts()); err != nil {
		t.Fatal(err)
	}
	enqueue(t, s, "out", uuids("new", 50)...)
	eventually(t, 5*time.Second, "delivery", func() bool { return s.Stats("out").Depth == 0 })
	logPath := filepath.Join(marksDir(dir), markFileName("out"))
	if _, err := os.Stat(logPath); err == nil {
		t.Fatal("entries still in the memtable went to the delivered log")
	}
	if err := s.StopOutput(context.Background(), "out"); err != nil {
		t.Fatal(err)
	}
	enqueue(t, s, "out", uuids("old", 50)...)
	flush(t, s)
	if err := s.StartOutput("out", out, fastOpts()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "delivery", func() bool { return s.Stats("out").Depth == 0 })
	q := s.lookup("out")
	q.markMu.Lock()
	marked := q.marked
	q.markMu.Unlock()
	if marked != 50 {
		t.Fatalf("%d entries marked in the delivered log, want the 50 flushed ones", marked)
	}
	assertCounters(t, s, "out")
	crashClose(t, s)
	reopen(t, dir, 0)
}

// Each output keeps its own log; a crash with both holding marks leaves
// both queues exact after Open.
func TestDeliveredLogsOfTwoOutputs(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, -1)
	names := []string{"a", "b/with\x01odd name"}
	for _, name := range names {
		enqueue(t, s, name, uuids(name, 30)...)
	}
	if err := s.db.Flush(); err != nil {
		t.Fatal(err)
	}
	outs := map[string]*gateOutput{}
	for _, name := range names {
		outs[name] = newGateOutput()
		if err := s.StartOutput(name, outs[name], fastOpts()); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range names {
		eventually(t, 5*time.Second, name+" delivered", func() bool { return s.Stats(name).Depth == 0 })
		if _, err := os.Stat(filepath.Join(marksDir(dir), markFileName(name))); err != nil {
			t.Fatalf("output %q: no delivered log: %v", name, err)
		}
	}
	for _, name := range names {
		if err := s.StopOutput(context.Background(), name); err != nil {
			t.Fatal(err)
		}
	}
	crashClose(t, s)
	s = openStore(t, dir, -1)
	defer s.Close()
	for _, name := range names {
		if st := s.Stats(name); st.Depth != 0 {
			t.Fatalf("output %q: depth %d after the crash, want 0", name, st.Depth)
		}
		assertCounters(t, s, name)
	}
	if ents, _ := os.ReadDir(marksDir(dir)); len(ents) != 0 {
		t.Fatalf("delivered logs left after Open: %v", ents)
	}
}
