// Package outputtest is the conformance kit every output runs: deterministic
// alerts, golden payloads (-update), the HTTP status table versus the retry
// decision, context cancellation, secrets absent from errors and logs, and a
// destination that is down and comes back without losing anything.
//
// HTTP outputs run everything with HTTPSuite.Run. Outputs on other protocols
// (Kafka) use the generic parts: Alerts, Marker, CaptureLogs, AssertNoSecrets,
// Golden, RequireRetryable/RequirePermanent, CheckContextCancel, DeliverAll
// and CheckDownThenBack.
package outputtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lannerhq/lanner/alert"
	"github.com/lannerhq/lanner/outputs"
)

// update rewrites golden files: go test ./outputs/NAME -update. A flag is the
// one package-level variable here, as the testing convention requires.
var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// Marker is the unique token alert i carries in its output text, so a
// receiver's payload can be searched for it whatever its format.
func Marker(i int) string { return fmt.Sprintf("lanner-conf-%05d", i) }

var baseTime = time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC)

// Alert returns the deterministic alert i: fixed UUID and time, priorities,
// rules and sources varying with i, output text holding Marker(i).
func Alert(i int) *alert.Alert {
	prios := []alert.Priority{alert.PriorityWarning, alert.PriorityCritical, alert.PriorityNotice, alert.PriorityError}
	rules := []string{"Read sensitive file untrusted", "Terminal shell in container", "Write below etc"}
	p := prios[i%len(prios)]
	r := rules[i%len(rules)]
	return &alert.Alert{
		UUID:     fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
		Time:     baseTime.Add(time.Duration(i) * time.Millisecond),
		Priority: p,
		Rule:     r,
		Output: fmt.Sprintf("%s: %s %s (user=root command=cat /etc/shadow pod=web-%d marker=%s)",
			baseTime.Add(time.Duration(i)*time.Millisecond).Format("15:04:05.000000000"), p, r, i%7, Marker(i)),
		OutputFields: alert.MustFields(map[string]any{
			"evt.type":       "openat",
			"fd.name":        "/etc/shadow",
			"proc.name":      "cat",
			"proc.pid":       json.Number(fmt.Sprint(4000 + i)),
			"user.name":      "root",
			"user.uid":       json.Number("0"),
			"k8s.ns.name":    "default",
			"k8s.pod.name":   fmt.Sprintf("web-%d", i%7),
			"container.id":   "3ad7b26ded6d",
			"proc.tty":       nil,
			"evt.is_success": true,
		}),
		Source:   "syscall",
		Tags:     []string{"filesystem", "mitre_credential_access"},
		Hostname: fmt.Sprintf("node-%d", i%3),
	}
}

// Alerts returns messages for alerts first..first+n-1.
func Alerts(first, n int) []outputs.Message {
	msgs := make([]outputs.Message, n)
	for i := range msgs {
		msgs[i] = outputs.Message{Alert: Alert(first + i)}
	}
	return msgs
}

// LogBuffer collects log lines from several goroutines.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything logged so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// CaptureLogs returns a debug-level JSON logger writing into the buffer, to
// pass in outputs.Deps and search afterwards.
func CaptureLogs() (*slog.Logger, *LogBuffer) {
	b := &LogBuffer{}
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// AssertNoSecrets fails when any secret (at least 4 characters) appears in
// any of the texts.
func AssertNoSecrets(t testing.TB, secrets []string, texts ...string) {
	t.Helper()
	for _, s := range secrets {
		if len(s) < 4 {
			continue
		}
		for _, txt := range texts {
			if strings.Contains(txt, s) {
				t.Errorf("secret %q leaked into: %s", s[:2]+"…", txt)
			}
		}
	}
}

// RequireRetryable fails unless err is non-nil and retryable.
func RequireRetryable(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("want a retryable error, got nil")
	}
	if !outputs.IsRetryable(err) {
		t.Fatalf("want a retryable error, got permanent: %v", err)
	}
}

// RequirePermanent fails unless err is non-nil and permanent.
func RequirePermanent(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("want a permanent error, got nil")
	}
	if outputs.IsRetryable(err) {
		t.Fatalf("want a permanent error, got retryable: %v", err)
	}
}

// Golden compares got with testdata/NAME.golden, rewriting it under -update.
func Golden(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("payload differs from %s (rerun with -update if intended)\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

// CheckContextCancel sends msgs with a context cancelled after 200ms to an
// output whose destination never answers: Send must return within 3s with a
// retryable error (the alerts stay queued).
func CheckContextCancel(t testing.TB, out outputs.Output, msgs []outputs.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := out.Send(ctx, msgs)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Send took %s after its context ended", d)
	}
	RequireRetryable(t, err)
}

// DeliverAll is a minimal stand-in for the router's queue: it sends msgs in
// batches, retrying each batch (honouring RetryAfter, at most 1s per wait)
// until it succeeds, a permanent error occurs, or ctx ends. For a partial
// failure it resends only the failed messages. It returns the number of
// failed attempts.
func DeliverAll(ctx context.Context, out outputs.Output, msgs []outputs.Message, batchSize int) (failures int, err error) {
	if batchSize <= 0 {
		batchSize = len(msgs)
	}
	for start := 0; start < len(msgs); start += batchSize {
		batch := msgs[start:min(start+batchSize, len(msgs))]
		for len(batch) > 0 {
			err := out.Send(ctx, batch)
			if err == nil {
				break
			}
			if !outputs.IsRetryable(err) {
				return failures, err
			}
			failures++
			var pe *outputs.PartialError
			if errors.As(err, &pe) {
				var left []outputs.Message
				for i, m := range batch {
					if e, failed := pe.Failed[i]; failed {
						if !outputs.IsRetryable(e) {
							return failures, e
						}
						left = append(left, m)
					}
				}
				batch = left
			}
			wait := min(max(outputs.RetryAfterOf(err), 50*time.Millisecond), time.Second)
			select {
			case <-ctx.Done():
				return failures, fmt.Errorf("gave up: %w (last error: %v)", ctx.Err(), err)
			case <-time.After(wait):
			}
		}
	}
	return failures, nil
}

// DownThenBack describes a destination that starts down.
type DownThenBack struct {
	// Out points at the destination while it is down.
	Out outputs.Output
	// Up brings the destination up (same address).
	Up func()
	// Received returns what the destination got so far (payloads, documents,
	// message values): the kit searches them for each alert's Marker.
	Received func() []string
	// N alerts are delivered in batches of BatchSize (defaults 30 and 10).
	N, BatchSize int
	// Secrets must not appear in the errors seen while down.
	Secrets []string
}

// CheckDownThenBack: Send fails retryably while the destination is down; once
// it is up, a retry loop (DeliverAll) delivers every alert: none is lost.
func CheckDownThenBack(t testing.TB, c DownThenBack) {
	t.Helper()
	if c.N == 0 {
		c.N = 30
	}
	if c.BatchSize == 0 {
		c.BatchSize = 10
	}
	msgs := Alerts(1000, c.N)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := c.Out.Send(ctx, msgs[:1])
	RequireRetryable(t, err)
	AssertNoSecrets(t, c.Secrets, err.Error())

	upc := make(chan struct{})
	go func() { // the destination comes back while the loop is retrying
		defer close(upc)
		time.Sleep(300 * time.Millisecond)
		c.Up()
	}()
	failures, err := DeliverAll(ctx, c.Out, msgs, c.BatchSize)
	<-upc
	if err != nil {
		t.Fatalf("delivery after recovery: %v", err)
	}
	if failures == 0 {
		t.Log("note: the destination came up before the first retry")
	}
	got := strings.Join(c.Received(), "\n")
	var lost []string
	for i := range msgs {
		if !strings.Contains(got, Marker(1000+i)) {
			lost = append(lost, Marker(1000+i))
		}
	}
	if len(lost) > 0 {
		t.Fatalf("%d of %d alerts lost after the destination came back: %v", len(lost), len(msgs), lost)
	}
}
