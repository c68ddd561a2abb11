package queue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/lannerhq/lanner/outputs"
)

func ok200(int, []string) (int, http.Header, string) { return 200, nil, "" }

func TestDeliverQueuedBeforeStartAndAfterRestart(t *testing.T) {
	dir := t.TempDir()
	openStore := func(t *testing.T, dir string, _ time.Duration) *Store {
		s, err := Open(Options{Dir: dir, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	sk := newSink(t, ok200)
	ids := uuids("a", 250)

	s := openStore(t, dir, 0)
	if got := enqueue(t, s, "hook", ids[:200]...); got[0] != Queued || got[199] != Queued {
		t.Fatalf("outcomes %v", got[:3])
	}
	if st := s.Stats("hook"); st.Depth != 200 || st.State != "stopped" || st.Bytes <= 0 {
		t.Fatalf("stats before start: %+v", st)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Queued before a restart: delivered after it.
	s = openStore(t, dir, 0)
	if st := s.Stats("hook"); st.Depth != 200 {
		t.Fatalf("depth after reopen = %d, want 200", st.Depth)
	}
	if err := s.StartOutput("hook", newHTTPOutput(sk.srv.URL), fastOpts()); err != nil {
		t.Fatal(err)
	}
	enqueue(t, s, "hook", ids[200:]...)
	eventually(t, 10*time.Second, "all delivered", func() bool { return sk.total() == 250 })
	eventually(t, 5*time.Second, "depth 0", func() bool { return s.Stats("hook").Depth == 0 })
	st := s.Stats("hook")
	if st.Delivered != 250 || st.State != "running" || st.Bytes != 0 || st.LastError != "" {
		t.Fatalf("stats: %+v", st)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Nothing is delivered twice after a clean restart.
	s = openStore(t, dir, 0)
	defer s.Close()
	if st := s.Stats("hook"); st.Depth != 0 || st.Bytes != 0 {
		t.Fatalf("after restart: %+v", st)
	}
	if err := s.StartOutput("hook", newHTTPOutput(sk.srv.URL), fastOpts()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	for _, id := range ids {
		if n := sk.count(id); n != 1 {
			t.Fatalf("%s delivered %d times", id, n)
		}
	}
}

func TestFailures(t *testing.T) {
	type check func(t *testing.T, s *Store, sk *sink)
	tests := []struct {
		name  string
		opts  func(*OutputOptions)
		reply func(n int, uuids []string) (int, http.Header, string)
		ids   []string
		check check
	}{{
		name: "retry-after honoured",
		reply: func(n int, _ []string) (int, http.Header, string) {
			if n == 1 {
				return 429, http.Header{"Retry-After": {"150ms"}}, ""
			}
			return 200, nil, ""
		},
		ids: []string{"r1", "r2"},
		check: func(t *testing.T, s *Store, sk *sink) {
			eventually(t, 5*time.Second, "delivery", func() bool { return s.Stats("out").Delivered == 2 })
			sk.mu.Lock()
			gap := sk.times[1].Sub(sk.times[0])
			sk.mu.Unlock()
			if gap < 150*time.Millisecond {
				t.Errorf("retried after %s, want >= 150ms", gap)
			}
			st := s.Stats("out")
			if st.Retries != 2 || st.Failed != 2 || st.Delivered != 2 || st.LastError != "" {
				t.Errorf("stats %+v", st)
			}
		},
	}, {
		name:  "permanent failure dead-lettered at once",
		reply: func(int, []string) (int, http.Header, string) { return 400, nil, "" },
		ids:   []string{"p1"},
		check: func(t *testing.T, s *Store, sk *sink) {
			eventually(t, 5*time.Second, "dead letter", func() bool { return s.Stats("out").DeadLetters == 1 })
			dl, err := s.DeadLetter("out", firstDeadID(t, s, "out"))
			if err != nil {
				t.Fatal(err)
			}
			if dl.Attempts != 1 || !strings.Contains(dl.Reason, "permanent") || !strings.Contains(dl.Reason, "400") ||
				dl.Alert.UUID != "p1" || dl.DeadAt.IsZero() || dl.FirstTry.IsZero() {
				t.Errorf("dead letter %+v", dl)
			}
			if sk.requests() != 1 {
				t.Errorf("%d requests, want 1", sk.requests())
			}
			if st := s.Stats("out"); st.Depth != 0 || st.Retries != 0 || !strings.Contains(st.LastError, "400") {
				t.Errorf("stats %+v", st)
			}
		},
	}, {
		name: "partial failure",
		reply: func(n int, _ []string) (int, http.Header, string) {
			if n == 1 {
				return 207, nil, `{"failed":{"1":400,"2":500}}`
			}
			return 200, nil, ""
		},
		ids: []string{"x0", "x1", "x2"},
		check: func(t *testing.T, s *Store, sk *sink) {
			eventually(t, 5*time.Second, "delivery", func() bool { return sk.count("x2") == 1 })
			eventually(t, 5*time.Second, "settled", func() bool { return s.Stats("out").Delivered == 2 })
			if sk.count("x0") != 1 || sk.count("x1") != 0 {
				t.Errorf("x0 %d, x1 %d", sk.count("x0"), sk.count("x1"))
			}
			list, _, err := s.DeadLetters("out", "", 10)
			if err != nil || len(list) != 1 || list[0].Alert.UUID != "x1" {
				t.Fatalf("dead letters %+v %v", list, err)
			}
			if st := s.Stats("out"); st.Delivered != 2 || st.Retries != 1 {
				t.Errorf("stats %+v", st)
			}
		},
	}, {
		// An alert the output did not try (its endpoint was failing the
		// others) is sent again without using up one of its attempts.
		name: "not attempted",
		opts: func(o *OutputOptions) { o.MaxAttempts = 1 },
		reply: func(n int, _ []string) (int, http.Header, string) {
			if n == 1 {
				return 207, nil, `{"failed":{"1":0}}`
			}
			return 200, nil, ""
		},
		ids: []string{"n0", "n1"},
		check: func(t *testing.T, s *Store, sk *sink) {
			eventually(t, 5*time.Second, "delivery", func() bool { return sk.count("n1") == 1 })
			eventually(t, 5*time.Second, "settled", func() bool { return s.Stats("out").Delivered == 2 })
			if st := s.Stats("out"); st.DeadLetters != 0 || st.Failed != 0 || sk.count("n0") != 1 {
				t.Errorf("stats %+v, n0 delivered %d times", st, sk.count("n0"))
			}
		},
	}, {
		// Never tried at all, it still ends in the dead letters at max age.
		name: "not attempted past max age",
		opts: func(o *OutputOptions) {
			o.MaxAge = 60 * time.Millisecond
			o.MaxAttempts = 0
		},
		reply: func(int, []string) (int, http.Header, string) { return 207, nil, `{"failed":{"0":0}}` },
		ids:   []string{"o1"},
		check: func(t *testing.T, s *Store, sk *sink) {
			eventually(t, 5*time.Second, "dead letter", func() bool { return s.Stats("out").DeadLetters == 1 })
			dl, _ := s.DeadLetter("out", firstDeadID(t, s, "out"))
			if !strings.Contains(dl.Reason, "max age") || !strings.Contains(dl.Reason, "not sent") {
				t.Errorf("dead letter %+v", dl)
			}
		},
	}, {
		name:  "max attempts",
		opts:  func(o *OutputOptions) { o.MaxAttempts = 3 },
		reply: func(int, []string) (int, http.Header, string) { return 500, nil, "" },
		ids:   []string{"m1"},
		check: func(t *testing.T, s *Store, sk *sink) {
			eventually(t, 5*time.Second, "dead letter", func() bool { return s.Stats("out").DeadLetters == 1 })
			dl, _ := s.DeadLetter("out", firstDeadID(t, s, "out"))
			if dl.Attempts != 3 || !strings.Contains(dl.Reason, "after 3 attempts") || sk.requests() != 3 {
				t.Errorf("dead letter %+v after %d requests", dl, sk.requests())
			}
		},
	}, {
		name: "max age",
		opts: func(o *OutputOptions) {
			o.MaxAge = 60 * time.Millisecond
			o.MaxAttempts = 0
		},
		reply: func(int, []string) (int, http.Header, string) { return 503, nil, "" },
		ids:   []string{"g1"},
		check: func(t *testing.T, s *Store, sk *sink) {
			eventually(t, 5*time.Second, "dead letter", func() bool { return s.Stats("out").DeadLetters == 1 })
			dl, _ := s.DeadLetter("out", firstDeadID(t, s, "out"))
			if !strings.Contains(dl.Reason, "max age") || dl.Attempts < 2 {
				t.Errorf("dead letter %+v", dl)
			}
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sk := newSink(t, tc.reply)
			s := openStore(t, t.TempDir(), 0)
			defer s.Close()
			o := fastOpts()
			if tc.opts != nil {
				tc.opts(&o)
			}
			enqueue(t, s, "out", tc.ids...)
			if err := s.StartOutput("out", newHTTPOutput(sk.srv.URL), o); err != nil {
				t.Fatal(err)
			}
			tc.check(t, s, sk)
			eventually(t, 5*time.Second, "queue settled", func() bool { return s.Stats("out").Depth == 0 })
			assertCounters(t, s, "out")
		})
	}
}

func firstDeadID(t *testing.T, s *Store, output string) string {
	t.Helper()
	list, _, err := s.DeadLetters(output, "", 1)
	if err != nil || len(list) == 0 {
		t.Fatalf("no dead letter: %v", err)
	}
	return list[0].ID
}

func TestDeadLettersPageReplayPurge(t *testing.T) {
	var mu sync.Mutex
	failing := true
	sk := newSink(t, func(int, []string) (int, http.Header, string) {
		mu.Lock()
		defer mu.Unlock()
		if failing {
			return 422, nil, ""
		}
		return 200, nil, ""
	})
	dir := t.TempDir()
	s := openStore(t, dir, 0)
	ids := uuids("d", 7)
	enqueue(t, s, "out", ids...)
	if err := s.StartOutput("out", newHTTPOutput(sk.srv.URL), fastOpts()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "7 dead letters", func() bool { return s.Stats("out").DeadLetters == 7 })

	// Page through them, 3 at a time, across a restart.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir, 0)
	defer s.Close()
	var all []DeadLetter
	after := ""
	for {
		page, next, err := s.DeadLetters("out", after, 3)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if next == "" {
			break
		}
		after = next
	}
	if len(all) != 7 {
		t.Fatalf("listed %d dead letters, want 7", len(all))
	}
	if _, err := s.DeadLetter("out", "00000000ffffffff"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
	if _, err := s.DeadLetter("out", "not-hex"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("bad id: %v", err)
	}

	// Purge two by id, replay two by id, then replay the rest.
	if n, err := s.Purge("out", []string{all[0].ID, all[1].ID, all[1].ID, "00000000ffffffff"}); n != 2 || err != nil {
		t.Fatalf("purge = %d, %v", n, err)
	}
	mu.Lock()
	failing = false
	mu.Unlock()
	if err := s.StartOutput("out", newHTTPOutput(sk.srv.URL), fastOpts()); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Replay("out", []string{all[2].ID, all[3].ID}); n != 2 || err != nil {
		t.Fatalf("replay = %d, %v", n, err)
	}
	eventually(t, 5*time.Second, "2 replayed delivered", func() bool { return sk.total() == 2 })
	if n, err := s.Replay("out", nil); n != 3 || err != nil {
		t.Fatalf("replay all = %d, %v", n, err)
	}
	eventually(t, 5*time.Second, "5 delivered", func() bool { return sk.total() == 5 && s.Stats("out").Depth == 0 })
	if st := s.Stats("out"); st.DeadLetters != 0 || st.Depth != 0 {
		t.Fatalf("stats %+v", st)
	}
	assertCounters(t, s, "out")
	for _, d := range all[:2] {
		if sk.count(d.Alert.UUID) != 0 {
			t.Errorf("purged %s was delivered", d.Alert.UUID)
		}
	}

	// Purge all.
	mu.Lock()
	failing = true
	mu.Unlock()
	enqueue(t, s, "out", "late1", "late2")
	eventually(t, 5*time.Second, "2 dead letters", func() bool { return s.Stats("out").DeadLetters == 2 })
	if n, err := s.Purge("out", nil); n != 2 || err != nil {
		t.Fatalf("purge all = %d, %v", n, err)
	}
	if list, _, _ := s.DeadLetters("out", "", 10); len(list) != 0 || s.Stats("out").DeadLetters != 0 {
		t.Fatalf("after purge: %d listed, stats %+v", len(list), s.Stats("out"))
	}
}

func TestOverflow(t *testing.T) {
	tests := []struct {
		name        string
		policy      Overflow
		wantOut     []Outcome
		wantDropped int64
		wantLeft    []string
	}{
		{"reject", OverflowReject, []Outcome{Queued, Queued, Queued, Full, Full}, 0, []string{"o0", "o1", "o2"}},
		{"drop_oldest", OverflowDropOldest, []Outcome{Queued, Queued, Queued, Queued, Queued}, 2, []string{"o2", "o3", "o4"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			s, err := Open(Options{Dir: t.TempDir(), Registerer: reg})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			sk := newSink(t, ok200)
			o := fastOpts()
			o.MaxEntries, o.Overflow = 3, tc.policy
			// Start and stop at once so the bound is configured but nothing is taken.
			if err := s.StartOutput("out", newHTTPOutput(sk.srv.URL), o); err != nil {
				t.Fatal(err)
			}
			if err := s.StopOutput(context.Background(), "out"); err != nil {
				t.Fatal(err)
			}
			var got []Outcome
			for _, id := range uuids("o", 5) {
				got = append(got, enqueue(t, s, "out", strings.Replace(id, "-00000", "", 1))...)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.wantOut) {
				t.Fatalf("outcomes %v, want %v", got, tc.wantOut)
			}
			st := s.Stats("out")
			if st.Depth != 3 || st.Dropped != tc.wantDropped {
				t.Fatalf("stats %+v", st)
			}
			reason := dropReasonOldest
			want := float64(tc.wantDropped)
			if tc.policy == OverflowReject {
				reason, want = dropReasonRejected, 2
			}
			if v := metricValue(s.m.dropped.WithLabelValues("out", reason)); v != want {
				t.Fatalf("dropped{%s} = %v, want %v", reason, v, want)
			}
			if err := s.StartOutput("out", newHTTPOutput(sk.srv.URL), o); err != nil {
				t.Fatal(err)
			}
			eventually(t, 5*time.Second, "delivery", func() bool { return sk.total() == 3 && s.Stats("out").Depth == 0 })
			assertCounters(t, s, "out")
			for _, id := range tc.wantLeft {
				if sk.count(id) != 1 {
					t.Errorf("%s delivered %d times", id, sk.count(id))
				}
			}
		})
	}
}

func TestMaxBytesReject(t *testing.T) {
	s := openStore(t, t.TempDir(), 0)
	defer s.Close()
	sk := newSink(t, ok200)
	o := fastOpts()
	size := int64(len(mustEntry(t, "b1")))
	o.MaxEntries, o.MaxBytes = 0, 2*size+size/2 // room for two entries
	if err := s.StartOutput("out", newHTTPOutput(sk.srv.URL), o); err != nil {
		t.Fatal(err)
	}
	if err := s.StopOutput(context.Background(), "out"); err != nil {
		t.Fatal(err)
	}
	got := enqueue(t, s, "out", "b1", "b2", "b3")
	if fmt.Sprint(got) != fmt.Sprint([]Outcome{Queued, Queued, Full}) {
		t.Fatalf("outcomes %v (bytes %d)", got, s.Stats("out").Bytes)
	}
}

func TestDedup(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, time.Hour)
	if got := enqueue(t, s, "a", "u1", "u2", "u1"); fmt.Sprint(got) != "[queued queued duplicate]" {
		t.Fatalf("first: %v", got)
	}
	if got := enqueue(t, s, "a", "u1"); got[0] != Duplicate {
		t.Fatalf("again: %v", got)
	}
	// Per output: the same uuid is new for another output.
	items := []Item{{Output: "b", Msg: outputs.Message{Alert: mkAlert("u1")}}, {Output: "a", Msg: outputs.Message{Alert: mkAlert("u3")}}}
	if got, err := s.Enqueue(context.Background(), items); err != nil || fmt.Sprint(got) != "[queued queued]" {
		t.Fatalf("other output: %v %v", got, err)
	}
	// Concurrent copies: exactly one is queued.
	var wg sync.WaitGroup
	var mu sync.Mutex
	queued := 0
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := enqueue(t, s, "a", "race")
			mu.Lock()
			defer mu.Unlock()
			if got[0] == Queued {
				queued++
			}
		}()
	}
	wg.Wait()
	if queued != 1 {
		t.Fatalf("%d concurrent copies queued, want 1", queued)
	}
	// Delivered alerts stay remembered, across a restart.
	sk := newSink(t, ok200)
	if err := s.StartOutput("a", newHTTPOutput(sk.srv.URL), fastOpts()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "delivery", func() bool { return sk.total() == 4 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir, time.Hour)
	defer s.Close()
	if got := enqueue(t, s, "a", "u1", "u2", "race", "new"); fmt.Sprint(got) != "[duplicate duplicate duplicate queued]" {
		t.Fatalf("after restart: %v", got)
	}
	if st := s.Stats("a"); st.Duplicates != 3 {
		t.Fatalf("duplicates %d", st.Duplicates)
	}
	if v := metricValue(s.m.duplicates.WithLabelValues("a")); v != 3 {
		t.Fatalf("duplicates metric %v", v)
	}

	// Without uuid, or with dedup off, nothing is a duplicate.
	if got := enqueue(t, s, "a", "", ""); fmt.Sprint(got) != "[queued queued]" {
		t.Fatalf("no uuid: %v", got)
	}
	off := openStore(t, t.TempDir(), -1)
	defer off.Close()
	if got := enqueue(t, off, "a", "same", "same"); fmt.Sprint(got) != "[queued queued]" {
		t.Fatalf("dedup off: %v", got)
	}
}

func TestDedupExpiry(t *testing.T) {
	s := openStore(t, t.TempDir(), 40*time.Millisecond)
	defer s.Close()
	enqueue(t, s, "a", "e1")
	// The window is at least DedupWindow and at most twice it.
	if got := enqueue(t, s, "a", "e1"); got[0] != Duplicate {
		t.Fatalf("within window: %v", got)
	}
	time.Sleep(100 * time.Millisecond)
	if got := enqueue(t, s, "a", "e1"); got[0] != Queued {
		t.Fatalf("after window: %v", got)
	}
}

// A stopped output keeps its queue; a send cut short by the stop is
// delivered after the next start.
func TestStopOutputAbandonsInFlight(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	sk := newSink(t, func(n int, _ []string) (int, http.Header, string) {
		if n == 1 {
			<-release
		}
		return 200, nil, ""
	})
	defer once.Do(func() { close(release) })
	s := openStore(t, t.TempDir(), 0)
	defer s.Close()
	o := fastOpts()
	o.Concurrency = 1
	enqueue(t, s, "out", uuids("s", 5)...)
	if err := s.StartOutput("out", newHTTPOutput(sk.srv.URL), o); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "first request", func() bool { return sk.requests() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.StopOutput(ctx, "out"); err != nil {
		t.Fatal(err)
	}
	once.Do(func() { close(release) })
	if st := s.Stats("out"); st.State != "stopped" || st.Depth != 5 {
		t.Fatalf("after stop: %+v", st)
	}
	if err := s.StartOutput("out", newHTTPOutput(sk.srv.URL), o); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "delivery", func() bool { return s.Stats("out").Depth == 0 })
	for _, id := range uuids("s", 5) {
		if sk.count(id) < 1 {
			t.Errorf("%s not delivered", id)
		}
	}
	if err := s.StopOutput(context.Background(), "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("stop unknown: %v", err)
	}
}

// Attempt counts survive a restart.
func TestAttemptsPersist(t *testing.T) {
	sk := newSink(t, func(int, []string) (int, http.Header, string) { return 500, nil, "" })
	dir := t.TempDir()
	o := fastOpts()
	o.MaxAttempts = 4
	o.BackoffInitial, o.BackoffMax = 30*time.Millisecond, 30*time.Millisecond
	s := openStore(t, dir, 0)
	enqueue(t, s, "out", "p")
	if err := s.StartOutput("out", newHTTPOutput(sk.srv.URL), o); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "2 attempts", func() bool { return sk.requests() >= 2 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	before := sk.requests()
	s = openStore(t, dir, 0)
	defer s.Close()
	if err := s.StartOutput("out", newHTTPOutput(sk.srv.URL), o); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "dead letter", func() bool { return s.Stats("out").DeadLetters == 1 })
	dl, _ := s.DeadLetter("out", firstDeadID(t, s, "out"))
	if dl.Attempts != 4 || sk.requests() != 4 {
		t.Fatalf("attempts %d, requests %d (before restart %d)", dl.Attempts, sk.requests(), before)
	}
}

// Failed attempts write nothing to the queue while the batch is retried
// (the counts stay in memory: a write at the head of the queue next to new
// entries at its tail made Pebble rewrite the backlog), and a stop writes
// them back, which TestAttemptsPersist checks across a restart.
func TestRetriesWriteNothingUntilStop(t *testing.T) {
	sk := newSink(t, func(int, []string) (int, http.Header, string) { return 500, nil, "" })
	o := fastOpts()
	o.BackoffInitial, o.BackoffMax = 10*time.Millisecond, 10*time.Millisecond
	s := openStore(t, t.TempDir(), 0)
	defer s.Close()
	enqueue(t, s, "out", "p")
	if err := s.StartOutput("out", newHTTPOutput(sk.srv.URL), o); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "2 attempts", func() bool { return sk.requests() >= 2 })
	before := s.db.Metrics().WAL.BytesIn
	n := sk.requests()
	eventually(t, 5*time.Second, "5 more attempts", func() bool { return sk.requests() >= n+5 })
	if after := s.db.Metrics().WAL.BytesIn; after != before {
		t.Fatalf("failed attempts wrote %d bytes to the queue", after-before)
	}
	if err := s.StopOutput(context.Background(), "out"); err != nil {
		t.Fatal(err)
	}
	if s.db.Metrics().WAL.BytesIn == before {
		t.Fatal("the stop wrote no attempt counts")
	}
}

func TestMetricsAndOutputs(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, err := Open(Options{Dir: t.TempDir(), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sk := newSink(t, ok200)
	enqueue(t, s, "m", "m1", "m2")
	enqueue(t, s, "idle", "i1")
	if err := s.StartOutput("m", newHTTPOutput(sk.srv.URL), fastOpts()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "delivery", func() bool { return s.Stats("m").Depth == 0 })
	if got := fmt.Sprint(s.Outputs()); got != "[idle m]" {
		t.Fatalf("outputs %s", got)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, n := range []string{"lanner_output_delivered_total", "lanner_output_queue_depth", "lanner_output_queue_bytes",
		"lanner_output_delivery_latency_seconds", "lanner_queue_enqueue_seconds", "lanner_queue_wal_fsync_seconds"} {
		if !names[n] {
			t.Errorf("metric %s missing", n)
		}
	}
	// The WAL's fsyncs, in seconds on the exported bounds: each enqueue
	// above waited for one.
	for _, mf := range mfs {
		if mf.GetName() != "lanner_queue_wal_fsync_seconds" {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		var bounds []float64
		for _, b := range h.GetBucket() {
			bounds = append(bounds, b.GetUpperBound())
		}
		if h.GetSampleCount() < 2 || h.GetSampleSum() <= 0 || h.GetSampleSum() > 10*float64(h.GetSampleCount()) ||
			len(bounds) != len(walSyncBounds) || !slices.IsSorted(bounds) || bounds[0] < 99e-6 || bounds[0] > 101e-6 {
			t.Errorf("wal fsync histogram: %d samples, sum %v s, bounds %v", h.GetSampleCount(), h.GetSampleSum(), bounds)
		}
	}
	if v := metricValue(s.m.delivered.WithLabelValues("m")); v != 2 {
		t.Errorf("delivered %v", v)
	}
	if v := metricValue(s.m.depth.WithLabelValues("idle")); v != 1 {
		t.Errorf("depth{idle} %v", v)
	}
	if err := s.StartOutput("m", newHTTPOutput(sk.srv.URL), fastOpts()); err == nil {
		t.Error("second start succeeded")
	}
	bad := fastOpts()
	bad.Concurrency = 0
	if err := s.StartOutput("x", newHTTPOutput(sk.srv.URL), bad); err == nil {
		t.Error("concurrency 0 accepted")
	}
	if _, err := s.Enqueue(context.Background(), []Item{{Output: "", Msg: outputs.Message{Alert: mkAlert("z")}}}); err == nil {
		t.Error("empty output name accepted")
	}
}

func TestClosed(t *testing.T) {
	s := openStore(t, t.TempDir(), 0)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if _, err := s.Enqueue(context.Background(), []Item{{Output: "a", Msg: outputs.Message{Alert: mkAlert("c")}}}); !errors.Is(err, ErrClosed) {
		t.Fatalf("enqueue after close: %v", err)
	}
}

func TestRedact(t *testing.T) {
	in := `Post "https://user:pw@hooks.slack.com/services/T000/B000/XXXXSECRET?token=abc": dial tcp: timeout`
	out := redact(in)
	for _, secret := range []string{"XXXXSECRET", "pw", "token=abc", "T000"} {
		if strings.Contains(out, secret) {
			t.Fatalf("%q leaks %q", out, secret)
		}
	}
	if !strings.Contains(out, "hooks.slack.com") || !strings.Contains(out, "dial tcp") {
		t.Fatalf("redacted too much: %q", out)
	}
}

// metricValue reads a counter or gauge.
func metricValue(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		return -1
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}

// assertCounters checks the in-memory counters against a scan of the keys.
func assertCounters(t *testing.T, s *Store, name string) {
	t.Helper()
	q := s.lookup(name)
	want, err := q.scanCounters()
	if err != nil {
		t.Fatal(err)
	}
	q.mu.Lock()
	mem := counters{q.depth, q.bytes, q.dDepth, q.dBytes}
	q.mu.Unlock()
	if mem != want {
		t.Fatalf("in-memory counters %+v, scan %+v", mem, want)
	}
}

// Checkpoints cover delivered prefixes with range tombstones: after a
// restart the head starts past them.
func TestHeadAdvancesPastDelivered(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, -1)
	s.markStep = 1000
	out := &collectOutput{got: map[string]bool{}}
	o := fastOpts()
	o.BatchSize = 500
	if err := s.StartOutput("h", out, o); err != nil {
		t.Fatal(err)
	}
	ids := uuids("h", 5000)
	for i := 0; i < len(ids); i += 500 {
		enqueue(t, s, "h", ids[i:i+500]...)
	}
	eventually(t, 10*time.Second, "delivery", func() bool { return s.Stats("h").Depth == 0 })
	q := s.lookup("h")
	q.readMu.Lock()
	head := q.headSeq
	q.readMu.Unlock()
	if head < 4000 {
		t.Fatalf("head %d after 5000 delivered: no checkpoint", head)
	}
	// Nothing under the head is visible any more.
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: q.qPrefix, UpperBound: seqKey(q.qPrefix, head)})
	if err != nil {
		t.Fatal(err)
	}
	if it.First() {
		t.Fatalf("key %x below the head", it.Key())
	}
	it.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir, -1)
	defer s.Close()
	enqueue(t, s, "h", "after")
	assertCounters(t, s, "h")
	if len(out.got) != 5000 {
		t.Fatalf("delivered %d", len(out.got))
	}
}

// Replay respects the reject bound and says so.
func TestReplayFull(t *testing.T) {
	sk := newSink(t, func(int, []string) (int, http.Header, string) { return 400, nil, "" })
	s := openStore(t, t.TempDir(), 0)
	defer s.Close()
	o := fastOpts()
	o.MaxEntries = 2
	enqueue(t, s, "out", "f1", "f2")
	if err := s.StartOutput("out", newHTTPOutput(sk.srv.URL), o); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "dead letters", func() bool { return s.Stats("out").DeadLetters == 2 })
	if err := s.StopOutput(context.Background(), "out"); err != nil {
		t.Fatal(err)
	}
	enqueue(t, s, "out", "f3")
	n, err := s.Replay("out", nil)
	if n != 1 || !errors.Is(err, ErrFull) {
		t.Fatalf("replay = %d, %v; want 1, ErrFull", n, err)
	}
	if st := s.Stats("out"); st.Depth != 2 || st.DeadLetters != 1 {
		t.Fatalf("stats %+v", st)
	}
	assertCounters(t, s, "out")
}

// With the in-memory filter out of memory every lookup goes to disk, and
// dedup stays exact.
func TestDedupFilterSaturated(t *testing.T) {
	s := openStore(t, t.TempDir(), time.Hour)
	defer s.Close()
	s.filter = newDedupFilter(0)
	if got := enqueue(t, s, "a", "s1", "s2"); fmt.Sprint(got) != "[queued queued]" {
		t.Fatalf("first: %v", got)
	}
	if got := enqueue(t, s, "a", "s1", "s3"); fmt.Sprint(got) != "[duplicate queued]" {
		t.Fatalf("second: %v", got)
	}
}

// The counters are saved by a clean Close and rebuilt by a scan after a
// crash; either way a restart sees the same depth and dead letters.
func TestCountersAcrossCleanCloseAndCrash(t *testing.T) {
	sk := newSink(t, func(int, []string) (int, http.Header, string) { return 422, nil, "" })
	dir := t.TempDir()
	s := openStore(t, dir, 0)
	enqueue(t, s, "out", uuids("dead", 3)...)
	if err := s.StartOutput("out", newHTTPOutput(sk.srv.URL), fastOpts()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "3 dead letters", func() bool { return s.Stats("out").DeadLetters == 3 })
	if err := s.StopOutput(context.Background(), "out"); err != nil {
		t.Fatal(err)
	}
	enqueue(t, s, "out", uuids("live", 5)...)
	enqueue(t, s, "other", uuids("o", 2)...)
	want := map[string]OutputStats{"out": s.Stats("out"), "other": s.Stats("other")}
	check := func(s *Store, when string) {
		t.Helper()
		for name, w := range want {
			got := s.Stats(name)
			if got.Depth != w.Depth || got.Bytes != w.Bytes || got.DeadLetters != w.DeadLetters {
				t.Fatalf("%s, %s: depth %d bytes %d dead %d, want %d %d %d", when, name,
					got.Depth, got.Bytes, got.DeadLetters, w.Depth, w.Bytes, w.DeadLetters)
			}
			assertCounters(t, s, name)
		}
	}
	if want["out"].Depth != 5 || want["out"].DeadLetters != 3 {
		t.Fatalf("before restart: %+v", want["out"])
	}

	// Clean: the saved counters are used and the mark is spent.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir, 0)
	check(s, "after a clean close")
	if ok, err := s.has(cleanKey); err != nil || ok {
		t.Fatalf("clean mark still there after Open (%v)", err)
	}

	// Crash: the process dies with the DB open (Pebble closed without
	// the counters saved, as a kill would leave it), then a scan counts.
	enqueue(t, s, "out", uuids("more", 4)...)
	want["out"] = s.Stats("out")
	s.stopBackground()
	<-s.backgroundDone
	if err := s.closeDBs(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir, 0)
	defer s.Close()
	check(s, "after a crash")
	if got := s.Stats("out").Depth; got != 9 {
		t.Fatalf("depth %d after crash, want 9", got)
	}
}

func TestOpenRefusesFirstLayout(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, 0)
	if err := s.db.Set(append([]byte{kindCounter}, "out\x00"...), counters{}.encode(), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := Open(Options{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "first on-disk layout") {
		t.Fatalf("Open = %v, want the layout named", err)
	}
}

// The on-disk dedup index answers exactly with the Bloom filter out of the
// way, and rebuilds the filter after a restart.
func TestDedupIndexOnDisk(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, time.Hour)
	s.filter = newDedupFilter(0) // saturated: every lookup goes to the index
	seen := uuids("seen", 2000)  // spread over every shard
	enqueue(t, s, "a", seen...)
	s.dw.flush() // from memory to the DB
	if n := s.dw.pendingLen(); n != 0 {
		t.Fatalf("%d digests still pending after flush", n)
	}
	check := func(s *Store, when string) {
		t.Helper()
		ids := append(uuids("seen", 2000)[1990:], uuids(when, 10)...)
		got := enqueue(t, s, "a", ids...)
		for i, o := range got {
			want := Queued
			if i < 10 {
				want = Duplicate
			}
			if o != want {
				t.Fatalf("%s: %s is %v, want %v", when, ids[i], o, want)
			}
		}
		// Another output has its own digests.
		if got := enqueue(t, s, "b", seen[len(when)]); got[0] != Queued {
			t.Fatalf("%s: other output: %v", when, got[0])
		}
	}
	check(s, "before")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir, time.Hour)
	defer s.Close()
	check(s, "after") // with the filter rebuilt from the index
}

func TestWriteStallsCounted(t *testing.T) {
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	l := eventListener(m, slog.New(slog.DiscardHandler), func() {})
	l.WriteStallBegin(pebble.WriteStallBeginInfo{Reason: "memtable count limit reached"})
	time.Sleep(20 * time.Millisecond)
	l.WriteStallEnd()
	l.WriteStallEnd() // unmatched: ignored
	if v := metricValue(m.writeStalls); v != 1 {
		t.Errorf("stalls %v, want 1", v)
	}
	if v := metricValue(m.writeStallSeconds); v < 0.015 || v > 5 {
		t.Errorf("stall seconds %v, want about 0.02", v)
	}
}

// An entry that no longer decodes is deleted and counted, and the entries
// around it, read from disk in the same batch, are delivered.
func TestCorruptEntryDropped(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, 0)
	ids := uuids("c", 3)
	enqueue(t, s, "hook", ids...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir, 0) // nothing in memory: the entries are read from disk
	defer s.Close()
	// Overwrite the middle entry on disk, as a torn or damaged file would.
	prefix := prefixKey(kindQueue, "hook")
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	var keys [][]byte
	for it.First(); it.Valid(); it.Next() {
		keys = append(keys, bytes.Clone(it.Key()))
	}
	if err := it.Close(); err != nil || len(keys) != 3 {
		t.Fatalf("%d keys on disk, %v", len(keys), err)
	}
	if err := s.db.Set(keys[1], []byte{0xff, 1, 2}, pebble.Sync); err != nil {
		t.Fatal(err)
	}

	sk := newSink(t, ok200)
	if err := s.StartOutput("hook", newHTTPOutput(sk.srv.URL), fastOpts()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "depth 0", func() bool { return s.Stats("hook").Depth == 0 })
	if sk.count(ids[0]) != 1 || sk.count(ids[1]) != 0 || sk.count(ids[2]) != 1 {
		t.Fatalf("delivered %d / %d / %d, want 1 / 0 / 1", sk.count(ids[0]), sk.count(ids[1]), sk.count(ids[2]))
	}
	var m dto.Metric
	if err := s.lookup("hook").m.corrupt.Write(&m); err != nil || m.GetCounter().GetValue() != 1 {
		t.Fatalf("corrupt counted %v, want 1 (%v)", m.GetCounter().GetValue(), err)
	}
}
