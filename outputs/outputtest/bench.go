package outputtest

import (
	"context"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lannerhq/lanner/outputs"
)

// CPUTime is the process's user+system CPU time so far. Reported per alert
// it tells what an output costs whatever the shared machine's load.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// SendConcurrently sends msgs over and over from senders goroutines, as
// the queue's workers would, until total alerts were sent, and returns how
// long it took. A Send error fails the benchmark.
func SendConcurrently(tb testing.TB, o outputs.Output, msgs []outputs.Message, total, senders int) time.Duration {
	tb.Helper()
	start := time.Now()
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for i := s * len(msgs); i < total; i += senders * len(msgs) {
				if err := o.Send(context.Background(), msgs); err != nil {
					tb.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}
