package queue

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lannerhq/lanner/outputs"
)

const crashEnv = "LANNER_QUEUE_CRASH_CHILD"

// lineWriter writes whole lines to stdout unbuffered, so that a SIGKILL
// loses at most lines not yet written, never acknowledges what was not.
type lineWriter struct{ mu sync.Mutex }

func (w *lineWriter) line(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, _ = os.Stdout.WriteString(s + "\n")
}

// printOutput "delivers" by printing the uuids it accepted.
type printOutput struct{ w *lineWriter }

func (o printOutput) Send(_ context.Context, batch []outputs.Message) error {
	for _, m := range batch {
		o.w.line("D " + m.Alert.UUID)
	}
	return nil
}
func (printOutput) Close() error { return nil }

// crashChild enqueues forever (single alerts and batches, concurrently)
// while an output delivers, printing "A uuid" once each Enqueue returned.
func crashChild(dir, round string) {
	s, err := Open(Options{Dir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	// Many checkpoints, so that crashes land around them too.
	s.markStep = 1000
	w := &lineWriter{}
	o := DefaultOutputOptions()
	o.BatchWait = 20 * time.Millisecond
	o.Concurrency = 1
	if err := s.StartOutput("out", slowPrint{printOutput{w}}, o); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var ctr atomic.Int64
	for g := range 8 {
		go func() {
			for {
				n := 1
				if g%4 == 0 {
					n = 50
				}
				items := make([]Item, n)
				for i := range items {
					id := fmt.Sprintf("%s-%d-%d", round, g, ctr.Add(1))
					items[i] = Item{Output: "out", Msg: outputs.Message{Alert: mkAlert(id)}}
				}
				res, err := s.Enqueue(context.Background(), items)
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				for i, r := range res {
					if r == Queued {
						w.line("A " + items[i].Msg.Alert.UUID)
					}
				}
			}
		}()
	}
	select {}
}

// slowPrint delivers slowly so that a backlog builds up on disk.
type slowPrint struct{ printOutput }

func (o slowPrint) Send(ctx context.Context, batch []outputs.Message) error {
	time.Sleep(5 * time.Millisecond)
	return o.printOutput.Send(ctx, batch)
}

// TestCrashRecovery SIGKILLs a process that is enqueuing and delivering,
// twice, then checks that every acknowledged alert was either delivered
// or is still queued, and that a crash delivers again only about the
// batches that were in flight.
func TestCrashRecovery(t *testing.T) {
	if dir := os.Getenv(crashEnv); dir != "" {
		crashChild(dir, os.Getenv(crashEnv+"_ROUND"))
		return
	}
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	dir := t.TempDir()
	acked := map[string]bool{}
	delivered := map[string]int{}
	for round := range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashRecovery$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir, fmt.Sprintf("%s_ROUND=r%d", crashEnv, round))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				kind, id, ok := strings.Cut(sc.Text(), " ")
				switch {
				case !ok:
				case kind == "A":
					acked[id] = true
				case kind == "D":
					delivered[id]++
				}
			}
		}()
		time.Sleep(1500 * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-done
		_ = cmd.Wait()
	}
	if len(acked) < 100 {
		t.Fatalf("only %d alerts acknowledged: the child did not run", len(acked))
	}

	s := openStore(t, dir, 0)
	defer s.Close()
	out := &collectOutput{got: map[string]bool{}}
	if err := s.StartOutput("out", out, DefaultOutputOptions()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "backlog delivered", func() bool { return s.Stats("out").Depth == 0 })
	assertCounters(t, s, "out")
	out.mu.Lock()
	defer out.mu.Unlock()
	lost := 0
	for id := range acked {
		if delivered[id] == 0 && !out.got[id] {
			lost++
			if lost < 5 {
				t.Errorf("acknowledged alert %s lost", id)
			}
		}
	}
	t.Logf("%d acknowledged, %d delivered before the crashes, %d recovered from disk, %d lost",
		len(acked), len(delivered), len(out.got), lost)
	if lost > 0 {
		t.Fatalf("%d acknowledged alerts lost", lost)
	}
	// One worker with batches of 100: each crash may deliver again the
	// batch it interrupted, and one whose deletion in the memtable Pebble
	// had not written out yet (an unsynced write goes out with the next
	// synced enqueue, about a millisecond later here).
	dups := 0
	for id, n := range delivered {
		if out.got[id] {
			n++
		}
		dups += n - 1
	}
	t.Logf("%d deliveries repeated", dups)
	if max := 2 * 2 * DefaultOutputOptions().BatchSize; dups > max {
		t.Fatalf("%d deliveries repeated after 2 crashes; want at most %d", dups, max)
	}
}

type collectOutput struct {
	mu  sync.Mutex
	got map[string]bool
}

func (o *collectOutput) Send(_ context.Context, batch []outputs.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, m := range batch {
		o.got[m.Alert.UUID] = true
	}
	return nil
}
func (o *collectOutput) Close() error { return nil }
