package kafka

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/lannerhq/lanner/outputs"
	"github.com/lannerhq/lanner/outputs/outputtest"
	"github.com/lannerhq/lanner/router/queue"
)

// benchAlerts is the fixed workload: meaningful at -benchtime 1x.
const benchAlerts = 200_000

// BenchmarkDeliveredThroughQueue measures alerts/s from the first Enqueue
// into the durable queue (fsync'd) until the queue reports every alert
// delivered to an in-process kfake broker with acks=ALL. alerts/cpu-s
// divides by the CPU time of the whole process (queue, output and broker),
// a figure that stays meaningful on a loaded machine.
func BenchmarkDeliveredThroughQueue(b *testing.B) {
	msgs := outputtest.Alerts(0, 4096)
	for range b.N {
		c := newCluster(b, kfake.SeedTopics(3, "bench"))
		o, err := New(Config{HostPort: c.ListenAddrs()[0], Topic: "bench", RequiredAcks: "ALL", Compression: "lz4"}, outputs.Deps{})
		if err != nil {
			b.Fatal(err)
		}
		q, err := queue.Open(queue.Options{Dir: b.TempDir(), Logger: slog.New(slog.DiscardHandler), DedupWindow: -1})
		if err != nil {
			b.Fatal(err)
		}
		opts := queue.DefaultOutputOptions()
		opts.BatchSize = 2000
		opts.Concurrency = 4
		if err := q.StartOutput("kafka", o, opts); err != nil {
			b.Fatal(err)
		}
		cpu0 := outputtest.CPUTime()
		b.ResetTimer()
		start := time.Now()
		enqueue(b, q, "kafka", msgs, benchAlerts)
		b.Logf("enqueued in %s, %d delivered so far", time.Since(start), q.Stats("kafka").Delivered)
		waitDelivered(b, q, "kafka", benchAlerts, 2*time.Minute)
		el := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(benchAlerts)/el.Seconds(), "alerts/s")
		b.ReportMetric(float64(benchAlerts)/(outputtest.CPUTime()-cpu0).Seconds(), "alerts/cpu-s")
		if st := q.Stats("kafka"); st.DeadLetters != 0 || st.Failed != 0 {
			b.Errorf("dead letters %d, failed %d", st.DeadLetters, st.Failed)
		}
		_ = q.Close()
		_ = o.Close()
	}
}

// enqueue queues n alerts (cycling through msgs, each with a fresh uuid so
// nothing is a duplicate) from 4 producers, 1000 alerts per Enqueue call.
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
					a.UUID = benchUUID(j)
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

func benchUUID(i int) string {
	const hex = "0123456789abcdef"
	u := []byte("00000000-0000-4000-8000-000000000000")
	for k := len(u) - 1; i > 0 && k >= 0; k-- {
		if u[k] == '-' {
			continue
		}
		u[k] = hex[i%16]
		i /= 16
	}
	return string(u)
}

// BenchmarkSendDirect measures the output alone (no queue): 200,000 alerts
// in batches of 2000 from 4 concurrent senders, as the queue's workers would.
func BenchmarkSendDirect(b *testing.B) {
	msgs := outputtest.Alerts(0, 2000)
	for range b.N {
		c := newCluster(b, kfake.SeedTopics(3, "bench"))
		o, err := New(Config{HostPort: c.ListenAddrs()[0], Topic: "bench", RequiredAcks: "ALL", Compression: "lz4"}, outputs.Deps{})
		if err != nil {
			b.Fatal(err)
		}
		cpu0 := outputtest.CPUTime()
		b.ResetTimer()
		el := outputtest.SendConcurrently(b, o, msgs, benchAlerts, 4)
		b.StopTimer()
		b.ReportMetric(float64(benchAlerts)/el.Seconds(), "alerts/s")
		b.ReportMetric(float64(benchAlerts)/(outputtest.CPUTime()-cpu0).Seconds(), "alerts/cpu-s")
		_ = o.Close()
	}
}
