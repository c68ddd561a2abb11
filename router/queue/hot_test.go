package queue

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/lannerhq/lanner/outputs"
)

// recordingOutput answers every Send with err and keeps what it was sent.
type recordingOutput struct {
	err  error
	mu   sync.Mutex
	sent []outputs.Message
}

func (o *recordingOutput) Send(_ context.Context, batch []outputs.Message) error {
	o.mu.Lock()
	o.sent = append(o.sent, batch...)
	o.mu.Unlock()
	return o.err
}

func (o *recordingOutput) Close() error { return nil }

func (o *recordingOutput) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.sent)
}

// An entry handed to a worker from memory carries no encoded message: the
// retry written back, the entry read again after a restart and the dead
// letter must all hold the whole message (alert and overrides).
func TestHotTailEntriesKeepTheirMessage(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, 0)
	want := outputs.Message{Alert: mkAlert("hot-1"), Overrides: map[string]string{"channel": "#sec", "x": "y"}}
	o := fastOpts()
	o.MaxAttempts = 5
	o.BackoffInitial, o.BackoffMax = time.Hour, time.Hour // one attempt, then wait
	failing := &recordingOutput{err: errors.New("connection refused")}
	if err := s.StartOutput("out", failing, o); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enqueue(context.Background(), []Item{{Output: "out", Msg: want}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "first attempt", func() bool { return failing.count() == 1 })
	eventually(t, 5*time.Second, "retry written", func() bool { return s.Stats("out").Retries == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.StopOutput(ctx, "out"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// After the restart the entry comes from disk, as the retry wrote it.
	s = openStore(t, dir, 0)
	defer s.Close()
	permanent := &recordingOutput{err: outputs.Permanent(errors.New("rejected"))}
	if err := s.StartOutput("out", permanent, fastOpts()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "dead letter", func() bool { return s.Stats("out").DeadLetters == 1 })
	if got := permanent.sent[0]; !reflect.DeepEqual(got, want) {
		t.Errorf("after restart got %+v %+v\nwant %+v %+v", got.Alert, got.Overrides, want.Alert, want.Overrides)
	}
	dl, err := s.DeadLetter("out", firstDeadID(t, s, "out"))
	if err != nil {
		t.Fatal(err)
	}
	if dl.Attempts != 2 || !reflect.DeepEqual(dl.Alert, want.Alert) || !reflect.DeepEqual(dl.Overrides, want.Overrides) {
		t.Errorf("dead letter %+v", dl)
	}

	// Dead-lettered straight from memory.
	want2 := outputs.Message{Alert: mkAlert("hot-2"), Overrides: map[string]string{"channel": "#ops"}}
	if _, err := s.Enqueue(context.Background(), []Item{{Output: "out", Msg: want2}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "second dead letter", func() bool { return s.Stats("out").DeadLetters == 2 })
	list, _, err := s.DeadLetters("out", "", 10)
	if err != nil || len(list) != 2 {
		t.Fatalf("dead letters %d, %v", len(list), err)
	}
	if dl := list[1]; dl.Attempts != 1 || !reflect.DeepEqual(dl.Alert, want2.Alert) || !reflect.DeepEqual(dl.Overrides, want2.Overrides) {
		t.Errorf("dead letter from memory %+v", dl)
	}
}

func TestHotTailTake(t *testing.T) {
	var h hotTail
	put := func(seqs ...uint64) {
		for _, s := range seqs {
			h.slots[s&(hotCap-1)] = hotSlot{seq: s, size: int64(s)}
		}
	}
	put(1, 2, 3, 5)
	if es := h.take(1, 10, 2); len(es) != 2 || es[0].seq != 1 || es[1].seq != 2 {
		t.Fatalf("take(1,10,2) = %+v", es)
	}
	// Stops at the gap (4 was abandoned or never cached) and at hi.
	if es := h.take(3, 10, 10); len(es) != 1 || es[0].seq != 3 {
		t.Fatalf("take(3,10,10) = %+v", es)
	}
	if es := h.take(5, 5, 10); es != nil {
		t.Fatalf("take beyond committed = %+v", es)
	}
	// Taken slots are empty; a slot reused by a later sequence is a miss.
	if es := h.take(1, 10, 10); es != nil {
		t.Fatalf("taken twice: %+v", es)
	}
	put(5 + hotCap)
	if es := h.take(5, 10, 10); es != nil {
		t.Fatalf("stale slot taken: %+v", es)
	}
}

// Once the workers are more than hotCap behind, the tail lets go of what
// it holds instead of keeping decoded alerts alive for nothing.
func TestHotTailEmptiesWhenWorkersFallBehind(t *testing.T) {
	q := &outQueue{}
	q.readSeq.Store(1)
	var h hotTail
	put := func(lo, n uint64) {
		g := &group{q: q, rng: &seqRange{lo: lo, hi: lo + n}}
		items := make([]Item, n)
		outcomes := make([]Outcome, n)
		for i := range n {
			items[i] = Item{Output: "out", Msg: outputs.Message{Alert: mkAlert("x")}}
			g.slots = append(g.slots, slot{idx: int(i), val: []byte("v")})
		}
		h.putGroup(g, items, outcomes, time.Now())
	}
	put(1, 100)
	if h.live != 100 {
		t.Fatalf("live %d, want 100", h.live)
	}
	put(101, hotCap) // ends more than hotCap past the read cursor
	if h.live != 0 {
		t.Fatalf("live %d after falling behind, want 0", h.live)
	}
	for i := range h.slots {
		if h.slots[i].msg.Alert != nil {
			t.Fatalf("slot %d still holds an alert", i)
		}
	}
	q.readSeq.Store(101 + hotCap)
	put(101+hotCap, 10)
	if es := h.take(101+hotCap, 111+hotCap, 100); len(es) != 10 || h.live != 0 {
		t.Fatalf("took %d, live %d", len(es), h.live)
	}
}
