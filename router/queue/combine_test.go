package queue

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lannerhq/lanner/outputs"
)

// holdCommits takes every combined-commit slot, so that callers gather in
// one open group until release is called.
func holdCommits(s *Store) (release func()) {
	for range combineInFlight {
		s.comb.slots <- struct{}{}
	}
	return func() {
		for range combineInFlight {
			<-s.comb.slots
		}
	}
}

func openItems(s *Store) int {
	s.comb.mu.Lock()
	defer s.comb.mu.Unlock()
	if s.comb.open == nil {
		return 0
	}
	return len(s.comb.open.items)
}

type call struct {
	items    []Item
	outcomes []Outcome
	err      error
}

// runCombined makes calls join one open group, in order, then lets it
// commit.
func runCombined(t *testing.T, s *Store, calls []*call) {
	t.Helper()
	release := holdCommits(s)
	var wg sync.WaitGroup
	joined := 0
	for i, c := range calls {
		wg.Go(func() { c.outcomes, c.err = s.Enqueue(context.Background(), c.items) })
		joined += len(c.items)
		eventually(t, 5*time.Second, fmt.Sprintf("call %d joins", i), func() bool { return openItems(s) == joined })
	}
	release()
	wg.Wait()
}

func toBoth(uuid string) []Item {
	a := mkAlert(uuid)
	return []Item{{Output: "a", Msg: outputs.Message{Alert: a}}, {Output: "b", Msg: outputs.Message{Alert: a}}}
}

// Callers combined into one commit each get their own outcomes: a uuid sent
// by two of them is queued once per output, for the first.
func TestCombinedCallersGetTheirOwnOutcomes(t *testing.T) {
	s := openStore(t, t.TempDir(), time.Hour)
	defer s.Close()
	calls := []*call{{items: toBoth("u1")}, {items: toBoth("u2")}, {items: toBoth("u1")}}
	runCombined(t, s, calls)
	for i, want := range []string{"[queued queued]", "[queued queued]", "[duplicate duplicate]"} {
		if c := calls[i]; c.err != nil || fmt.Sprint(c.outcomes) != want {
			t.Errorf("call %d: %v %v, want %s", i, c.outcomes, c.err, want)
		}
	}
	for _, name := range []string{"a", "b"} {
		if st := s.Stats(name); st.Depth != 2 || st.Duplicates != 1 {
			t.Errorf("output %s: depth %d duplicates %d, want 2 and 1", name, st.Depth, st.Duplicates)
		}
	}
}

// A caller with a bad item fails alone; the others of its group are queued.
func TestCombinedBadItemFailsAlone(t *testing.T) {
	s := openStore(t, t.TempDir(), time.Hour)
	defer s.Close()
	bad := &call{items: []Item{{Output: "a", Msg: outputs.Message{Alert: mkAlert("u3")}}, {Output: "a"}}}
	calls := []*call{{items: toBoth("u1")}, bad, {items: toBoth("u2")}}
	runCombined(t, s, calls)
	if bad.err == nil {
		t.Errorf("call with a nil alert: outcomes %v, want an error", bad.outcomes)
	}
	for _, i := range []int{0, 2} {
		if c := calls[i]; c.err != nil || fmt.Sprint(c.outcomes) != "[queued queued]" {
			t.Errorf("call %d: %v %v", i, c.outcomes, c.err)
		}
	}
	// Nothing of the failed call was queued (u3 included).
	if st := s.Stats("a"); st.Depth != 2 {
		t.Errorf("output a depth %d, want 2", st.Depth)
	}
}

// Many concurrent single-alert Enqueues, combined: every alert is queued
// once and delivered once.
func TestCombinedConcurrentEnqueues(t *testing.T) {
	s := openStore(t, t.TempDir(), time.Hour)
	defer s.Close()
	out := &recordingOutput{}
	if err := s.StartOutput("out", out, fastOpts()); err != nil {
		t.Fatal(err)
	}
	const callers, each = 32, 40
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			for i := range each {
				// Every uuid is sent twice, by two different callers.
				u := fmt.Sprintf("c%02d-%03d", c/2, i)
				if _, err := s.Enqueue(context.Background(), []Item{{Output: "out", Msg: outputs.Message{Alert: mkAlert(u)}}}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	want := callers / 2 * each
	eventually(t, 10*time.Second, "delivery", func() bool { return out.count() >= want })
	time.Sleep(50 * time.Millisecond)
	out.mu.Lock()
	defer out.mu.Unlock()
	seen := map[string]int{}
	for _, m := range out.sent {
		seen[m.Alert.UUID]++
	}
	if len(out.sent) != want || len(seen) != want {
		t.Fatalf("delivered %d messages, %d distinct uuids; want %d of each", len(out.sent), len(seen), want)
	}
	if st := s.Stats("out"); st.Duplicates != int64(want) {
		t.Errorf("duplicates %d, want %d", st.Duplicates, want)
	}
}
