package queue

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lannerhq/lanner/outputs"
)

// benchAlerts makes n distinct messages; uuids are unique across calls.
func benchItems(ctr *atomic.Int64, output string, n int) []Item {
	items := make([]Item, n)
	for i := range items {
		id := ctr.Add(1)
		items[i] = Item{Output: output, Msg: outputs.Message{Alert: mkAlert("bench-" + strconv.FormatInt(id, 10))}}
	}
	return items
}

// cpuTime is the process's user+system CPU time so far. Reported per alert
// it tells the cost independently of how loaded the shared machine is.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func report(b *testing.B, alerts int, start time.Time, cpu0 time.Duration) {
	b.ReportMetric(float64(alerts)/time.Since(start).Seconds(), "alerts/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(alerts), "cpu-µs/alert")
}

// reportDrained adds the CPU per alert including the dedup index's writes
// still pending when the run ended (gathered digests written, the index's
// memtable flushed), so that write paths that defer work compare fairly.
func reportDrained(b *testing.B, s *Store, alerts int, cpu0 time.Duration) {
	if s.ddb == nil {
		return
	}
	s.dw.flush()
	if err := s.ddb.Flush(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(alerts), "drained-cpu-µs/alert")
}

// BenchmarkEnqueueSingleConcurrent: many concurrent 1-alert Enqueues, as
// single-alert HTTP requests make them. Each is fsync'd before it returns.
func BenchmarkEnqueueSingleConcurrent(b *testing.B) {
	b.Run("combined", func(b *testing.B) { benchSingle(b, 0, false) })
	b.Run("each-alone", func(b *testing.B) { benchSingle(b, 0, true) })
	b.Run("combined-no-dedup", func(b *testing.B) { benchSingle(b, -1, false) })
	b.Run("each-alone-no-dedup", func(b *testing.B) { benchSingle(b, -1, true) })
}

// benchSingle: single-item Enqueues from 128 goroutines, combined into
// shared commits (the default) or each committed alone through Pebble's
// pipeline (direct).
func benchSingle(b *testing.B, window time.Duration, direct bool) {
	s, err := Open(Options{Dir: b.TempDir(), DedupWindow: window})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	s.comb.direct = direct
	var ctr atomic.Int64
	b.SetParallelism(64) // 128 goroutines on 2 cores
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			items := benchItems(&ctr, "bench", 1)
			if _, err := s.Enqueue(context.Background(), items); err != nil {
				b.Error(err)
				return
			}
		}
	})
	report(b, b.N, start, cpu0)
	reportDrained(b, s, b.N, cpu0)
}

// BenchmarkEnqueueBatch500: Enqueues of 500 alerts, four streams at once,
// as gRPC batches make them; with the uuid dedup index (default) and
// without it.
func BenchmarkEnqueueBatch500(b *testing.B) {
	b.Run("dedup", func(b *testing.B) { benchBatch(b, 0) })
	b.Run("no-dedup", func(b *testing.B) { benchBatch(b, -1) })
}

func benchBatch(b *testing.B, window time.Duration) {
	s := openStore(b, b.TempDir(), window)
	defer s.Close()
	var ctr atomic.Int64
	b.SetParallelism(2)
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			b.StopTimer()
			items := benchItems(&ctr, "bench", 500)
			b.StartTimer()
			if _, err := s.Enqueue(context.Background(), items); err != nil {
				b.Error(err)
				return
			}
		}
	})
	report(b, b.N*500, start, cpu0)
	reportDrained(b, s, b.N*500, cpu0)
}

// nopOutput accepts everything.
type nopOutput struct{ n atomic.Int64 }

func (o *nopOutput) Send(_ context.Context, batch []outputs.Message) error {
	o.n.Add(int64(len(batch)))
	return nil
}
func (o *nopOutput) Close() error { return nil }

// BenchmarkDeliver: b.N alerts queued beforehand, then delivered to a no-op
// output by the default workers (read, decode, delete).
func BenchmarkDeliver(b *testing.B) {
	s := openStore(b, b.TempDir(), 0)
	defer s.Close()
	var ctr atomic.Int64
	for n := b.N; n > 0; n -= 500 {
		if _, err := s.Enqueue(context.Background(), benchItems(&ctr, "bench", min(n, 500))); err != nil {
			b.Fatal(err)
		}
	}
	out := &nopOutput{}
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	if err := s.StartOutput("bench", out, DefaultOutputOptions()); err != nil {
		b.Fatal(err)
	}
	for out.n.Load() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	report(b, b.N, start, cpu0)
}

// peakRSS is the process's peak resident set (VmHWM) in MiB.
func peakRSS(b *testing.B) float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}

// BenchmarkBacklog queues a backlog (QUEUE_BACKLOG alerts, default
// 200,000) with no output running, then delivers all of it to a no-op
// output. It reports ingest and drain rates and the process's peak RSS,
// which must not grow with the backlog. Run it alone (-bench Backlog
// -benchtime 1x): the peak covers the whole process.
func BenchmarkBacklog(b *testing.B) {
	n := 200_000
	if v, err := strconv.Atoi(os.Getenv("QUEUE_BACKLOG")); err == nil && v > 0 {
		n = v
	}
	for range b.N {
		s := openStore(b, b.TempDir(), 0)
		var ctr atomic.Int64
		start := time.Now()
		var wg sync.WaitGroup
		for w := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w * 500; i < n; i += 1000 {
					if _, err := s.Enqueue(context.Background(), benchItems(&ctr, "bench", min(500, n-i))); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "ingest-alerts/s")
		if d := s.Stats("bench").Depth; d != int64(n) {
			b.Fatalf("depth %d, want %d", d, n)
		}
		out := &nopOutput{}
		start = time.Now()
		if err := s.StartOutput("bench", out, DefaultOutputOptions()); err != nil {
			b.Fatal(err)
		}
		for s.Stats("bench").Depth > 0 {
			time.Sleep(10 * time.Millisecond)
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "drain-alerts/s")
		b.ReportMetric(peakRSS(b), "peak-RSS-MiB")
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIngestWhileDelivering: 500-alert Enqueues from two goroutines
// while the output's workers deliver to a no-op output, as a router under
// gRPC load with a fast batch output works. The CPU per alert covers
// enqueue, delivery and the flushes and compactions both cause.
func BenchmarkIngestWhileDelivering(b *testing.B) {
	s := openStore(b, b.TempDir(), 0)
	defer s.Close()
	out := &nopOutput{}
	o := DefaultOutputOptions()
	o.Concurrency, o.BatchSize = 4, 500
	if err := s.StartOutput("bench", out, o); err != nil {
		b.Fatal(err)
	}
	var ctr atomic.Int64
	b.SetParallelism(1)
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Enqueue(context.Background(), benchItems(&ctr, "bench", 500)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N*500)/time.Since(start).Seconds(), "ingest-alerts/s")
	for out.n.Load() < int64(b.N*500) {
		time.Sleep(time.Millisecond)
	}
	report(b, b.N*500, start, cpu0)
}
