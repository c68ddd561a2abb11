package elasticsearch

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lannerhq/lanner/outputs"
	"github.com/lannerhq/lanner/outputs/outputtest"
	"github.com/lannerhq/lanner/router/queue"
)

// benchAlerts is the fixed workload, so -benchtime 1x is meaningful.
const benchAlerts = 100_000

// BenchmarkDeliveredThroughQueue measures alerts/s from the first Enqueue
// into the durable queue (fsync'd) until the queue reports every alert
// delivered to ZincSearch's _bulk API. alerts/cpu-s divides by the CPU time
// of this process only (queue + output), not Zinc's.
func BenchmarkDeliveredThroughQueue(b *testing.B) {
	msgs := outputtest.Alerts(0, 4096)
	for range b.N {
		z := startZinc(b)
		o, err := New(Config{HostPort: z.URL, Username: z.User, Password: z.Pass, Index: "bench", Suffix: "none"}, outputs.Deps{})
		if err != nil {
			b.Fatal(err)
		}
		q, err := queue.Open(queue.Options{Dir: b.TempDir(), Logger: slog.New(slog.DiscardHandler), DedupWindow: -1})
		if err != nil {
			b.Fatal(err)
		}
		opts := queue.DefaultOutputOptions()
		opts.BatchSize = 1000
		opts.Concurrency = 4
		if err := q.StartOutput("es", o, opts); err != nil {
			b.Fatal(err)
		}
		cpu0, zcpu0 := cpuTime(), z.cpuTime()
		b.ResetTimer()
		start := time.Now()
		enqueue(b, q, "es", msgs, benchAlerts)
		waitDelivered(b, q, "es", benchAlerts, 3*time.Minute)
		el := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(benchAlerts)/el.Seconds(), "alerts/s")
		b.ReportMetric(float64(benchAlerts)/(cpuTime()-cpu0).Seconds(), "alerts/cpu-s")
		b.ReportMetric(float64(benchAlerts)/(z.cpuTime()-zcpu0).Seconds(), "zinc-alerts/cpu-s")
		if st := q.Stats("es"); st.DeadLetters != 0 {
			b.Errorf("dead letters: %d", st.DeadLetters)
		}
		_ = q.Close()
		_ = o.Close()
	}
}

// BenchmarkSendDirect measures the output alone: 100,000 alerts in batches
// of 1000 from 4 concurrent senders.
func BenchmarkSendDirect(b *testing.B) {
	msgs := outputtest.Alerts(0, 1000)
	for range b.N {
		z := startZinc(b)
		o, err := New(Config{HostPort: z.URL, Username: z.User, Password: z.Pass, Index: "bench", Suffix: "none"}, outputs.Deps{})
		if err != nil {
			b.Fatal(err)
		}
		cpu0, zcpu0 := cpuTime(), z.cpuTime()
		b.ResetTimer()
		start := time.Now()
		const senders = 4
		var wg sync.WaitGroup
		for s := range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := s * len(msgs); i < benchAlerts; i += senders * len(msgs) {
					if err := o.Send(context.Background(), msgs); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		el := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(benchAlerts)/el.Seconds(), "alerts/s")
		b.ReportMetric(float64(benchAlerts)/(cpuTime()-cpu0).Seconds(), "alerts/cpu-s")
		b.ReportMetric(float64(benchAlerts)/(z.cpuTime()-zcpu0).Seconds(), "zinc-alerts/cpu-s")
		_ = o.Close()
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// enqueue queues n alerts (cycling through msgs, each with a unique uuid)
// from 4 producers, 1000 alerts per Enqueue call.
func enqueue(b *testing.B, q *queue.Store, output string, msgs []outputs.Message, n int) {
	b.Helper()
	const producers, chunk = 4, 1000
	var wg sync.WaitGroup
	errs := make(chan error, producers)
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			items := make([]queue.Item, 0, chunk)
			for i := p * chunk; i < n; i += producers * chunk {
				items = items[:0]
				for j := i; j < min(i+chunk, n); j++ {
					a := msgs[j%len(msgs)].Alert.Clone()
					a.UUID = fmt.Sprintf("00000000-0000-4000-8000-%012x", j)
					items = append(items, queue.Item{Output: output, Msg: outputs.Message{Alert: a}})
				}
				if _, err := q.Enqueue(context.Background(), items); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

func waitDelivered(b *testing.B, q *queue.Store, output string, n int, limit time.Duration) {
	b.Helper()
	deadline := time.Now().Add(limit)
	for q.Stats(output).Delivered < int64(n) {
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d delivered after %s: %+v", q.Stats(output).Delivered, n, limit, q.Stats(output))
		}
		time.Sleep(2 * time.Millisecond)
	}
}
