package outputtest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lannerhq/lanner/outputs"
	"github.com/lannerhq/lanner/router/queue"
)

// QueueRun drives an output through the router's real durable queue
// (router/queue.Store in a temporary directory, StartOutput).
type QueueRun struct {
	Out outputs.Output
	// Options for StartOutput; zero value: queue.DefaultOutputOptions with
	// quick backoff (20ms..200ms) so tests stay short.
	Options *queue.OutputOptions
	// Msgs are enqueued before the output starts (a backlog on disk).
	Msgs []outputs.Message
	// Timeout bounds the wait for delivery (default 60s).
	Timeout time.Duration
	// OnStarted runs right after StartOutput (e.g. bring the destination up).
	OnStarted func()
}

// QueueResult is what a QueueRun measured.
type QueueResult struct {
	Enqueue  time.Duration // time to fsync the backlog into the queue
	Deliver  time.Duration // StartOutput until the queue is empty
	Stats    queue.OutputStats
	PerSec   float64 // delivered alerts per second of Deliver
	Enqueued int
}

// RunThroughQueue enqueues r.Msgs in a fresh queue.Store, starts the output
// and waits until every alert is delivered (none dead-lettered). It fails the
// test or benchmark otherwise.
func RunThroughQueue(tb testing.TB, r QueueRun) QueueResult {
	tb.Helper()
	log, logs := CaptureLogs()
	st, err := queue.Open(queue.Options{Dir: tb.TempDir(), Logger: log, DedupWindow: -1})
	if err != nil {
		tb.Fatalf("queue.Open: %v", err)
	}
	defer func() { _ = st.Close() }()
	opts := queue.DefaultOutputOptions()
	opts.BackoffInitial, opts.BackoffMax = 20*time.Millisecond, 200*time.Millisecond
	if r.Options != nil {
		opts = *r.Options
	}
	if r.Timeout == 0 {
		r.Timeout = 60 * time.Second
	}
	const name = "under-test"
	ctx := context.Background()
	start := time.Now()
	const chunk = 1000 // one fsync'd Enqueue per chunk, as concurrent ingest would group them
	for i := 0; i < len(r.Msgs); i += chunk {
		var items []queue.Item
		for _, m := range r.Msgs[i:min(i+chunk, len(r.Msgs))] {
			items = append(items, queue.Item{Output: name, Msg: m})
		}
		outcomes, err := st.Enqueue(ctx, items)
		if err != nil {
			tb.Fatalf("Enqueue: %v", err)
		}
		for j, o := range outcomes {
			if o != queue.Queued {
				tb.Fatalf("Enqueue item %d: %s", i+j, o)
			}
		}
	}
	res := QueueResult{Enqueue: time.Since(start), Enqueued: len(r.Msgs)}
	start = time.Now()
	if err := st.StartOutput(name, r.Out, opts); err != nil {
		tb.Fatalf("StartOutput: %v", err)
	}
	if r.OnStarted != nil {
		r.OnStarted()
	}
	deadline := time.Now().Add(r.Timeout)
	for {
		res.Stats = st.Stats(name)
		if res.Stats.Depth == 0 && res.Stats.Delivered+res.Stats.DeadLetters >= int64(len(r.Msgs)) {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("not delivered within %s: %+v", r.Timeout, res.Stats)
		}
		time.Sleep(5 * time.Millisecond)
	}
	res.Deliver = time.Since(start)
	res.PerSec = float64(res.Stats.Delivered) / res.Deliver.Seconds()
	if res.Stats.DeadLetters > 0 {
		dl, _, _ := st.DeadLetters(name, "", 1)
		reason := ""
		if len(dl) > 0 {
			reason = dl[0].Reason
		}
		tb.Fatalf("%d alerts dead-lettered (e.g. %q); logs:\n%s", res.Stats.DeadLetters, reason, tail(logs.String(), 2000))
	}
	return res
}

// CheckDownThenBackQueue is CheckDownThenBack driven by the real queue: the
// backlog is queued while the destination is down, the queue's workers retry
// with backoff, the destination comes up, and every alert arrives.
func CheckDownThenBackQueue(t testing.TB, c DownThenBack) {
	t.Helper()
	if c.N == 0 {
		c.N = 30
	}
	msgs := Alerts(2000, c.N)
	opts := queue.DefaultOutputOptions()
	opts.BackoffInitial, opts.BackoffMax = 20*time.Millisecond, 200*time.Millisecond
	if c.BatchSize > 0 {
		opts.BatchSize = c.BatchSize
	}
	res := RunThroughQueue(t, QueueRun{
		Out: c.Out, Options: &opts, Msgs: msgs, Timeout: 30 * time.Second,
		OnStarted: func() { time.Sleep(300 * time.Millisecond); c.Up() },
	})
	if res.Stats.Failed == 0 {
		t.Log("note: no failed attempt while the destination was down")
	}
	AssertNoSecrets(t, c.Secrets, res.Stats.LastError)
	got := strings.Join(c.Received(), "\n")
	var lost []string
	for i := range msgs {
		if !strings.Contains(got, Marker(2000+i)) {
			lost = append(lost, Marker(2000+i))
		}
	}
	if len(lost) > 0 {
		t.Fatalf("%d of %d alerts lost through the queue: %v", len(lost), len(msgs), lost)
	}
}

// ReportQueueBench reports a QueueRun as benchmark metrics: alerts/s
// delivered, and enqueue alerts/s.
func ReportQueueBench(b *testing.B, res QueueResult) {
	b.ReportMetric(res.PerSec, "alerts/s")
	b.ReportMetric(float64(res.Enqueued)/res.Enqueue.Seconds(), "enqueued/s")
	b.ReportMetric(0, "ns/op") // a fixed workload: ns/op says nothing here
	b.Logf("%d alerts delivered in %s (%.0f/s); %d failed attempts; enqueue took %s",
		res.Stats.Delivered, res.Deliver.Round(time.Millisecond), res.PerSec, res.Stats.Failed, res.Enqueue.Round(time.Millisecond))
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprint("…", s[len(s)-n:])
}
