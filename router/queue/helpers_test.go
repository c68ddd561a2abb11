package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lannerhq/lanner/alert"
	"github.com/lannerhq/lanner/outputs"
)

// httpOutput is a tiny real output for tests: it POSTs the batch as a JSON
// array and classifies the reply the way the webhook output does. A 207
// reply carries {"failed": {"<index>": <status>}} for a partial failure;
// status 0 there stands for outputs.ErrNotAttempted.
type httpOutput struct {
	url    string
	client *http.Client
}

func newHTTPOutput(url string) *httpOutput {
	return &httpOutput{url: url, client: &http.Client{Timeout: 5 * time.Second}}
}

func (o *httpOutput) Send(ctx context.Context, batch []outputs.Message) error {
	alerts := make([]*alert.Alert, len(batch))
	for i, m := range batch {
		alerts[i] = m.Alert
	}
	body, err := json.Marshal(alerts)
	if err != nil {
		return outputs.Permanent(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.url, bytes.NewReader(body))
	if err != nil {
		return outputs.Permanent(err)
	}
	resp, err := o.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return classify(resp.StatusCode, resp.Header.Get("Retry-After"), data)
}

func classify(code int, retryAfter string, body []byte) error {
	switch {
	case code == 207:
		var r struct{ Failed map[string]int }
		if err := json.Unmarshal(body, &r); err != nil {
			return fmt.Errorf("bad partial reply: %w", err)
		}
		pe := &outputs.PartialError{Failed: map[int]error{}}
		for k, c := range r.Failed {
			i, _ := strconv.Atoi(k)
			pe.Failed[i] = outputs.ErrNotAttempted
			if c != 0 {
				pe.Failed[i] = classify(c, "", nil)
			}
		}
		return pe
	case code >= 200 && code < 300:
		return nil
	}
	err := fmt.Errorf("http status %d", code)
	if code == 429 || code == 503 {
		if s, e := strconv.Atoi(retryAfter); e == nil {
			return outputs.RetryAfter(err, time.Duration(s)*time.Second)
		}
		if d, e := time.ParseDuration(retryAfter); e == nil { // test shortcut: "150ms"
			return outputs.RetryAfter(err, d)
		}
	}
	if code == 408 || code == 429 || code >= 500 {
		return err
	}
	return outputs.Permanent(err)
}

func (o *httpOutput) Close() error { o.client.CloseIdleConnections(); return nil }

// sink is a real HTTP receiver recording what it accepted. reply decides
// each response from the request number (from 1) and the batch's uuids.
type sink struct {
	srv   *httptest.Server
	mu    sync.Mutex
	reqs  int
	got   map[string]int // uuid -> times accepted
	times []time.Time
	reply func(n int, uuids []string) (code int, header http.Header, body string)
}

func newSink(t testing.TB, reply func(n int, uuids []string) (int, http.Header, string)) *sink {
	t.Helper()
	s := &sink{got: map[string]int{}, reply: reply}
	s.srv = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sink) handle(w http.ResponseWriter, r *http.Request) {
	var alerts []alert.Alert
	if err := json.NewDecoder(r.Body).Decode(&alerts); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	uuids := make([]string, len(alerts))
	for i, a := range alerts {
		uuids[i] = a.UUID
	}
	s.mu.Lock()
	s.reqs++
	n := s.reqs
	s.times = append(s.times, time.Now())
	s.mu.Unlock()
	code, hdr, body := 200, http.Header(nil), ""
	if s.reply != nil {
		code, hdr, body = s.reply(n, uuids)
	}
	s.mu.Lock()
	switch {
	case code == 207:
		var rr struct{ Failed map[string]int }
		_ = json.Unmarshal([]byte(body), &rr)
		for i, u := range uuids {
			if _, failed := rr.Failed[strconv.Itoa(i)]; !failed {
				s.got[u]++
			}
		}
	case code >= 200 && code < 300:
		for _, u := range uuids {
			s.got[u]++
		}
	}
	s.mu.Unlock()
	for k, v := range hdr {
		w.Header()[k] = v
	}
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body)
}

func (s *sink) count(uuid string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got[uuid]
}

func (s *sink) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

func (s *sink) requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reqs
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("QUEUE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func openStore(t testing.TB, dir string, window time.Duration) *Store {
	t.Helper()
	s, err := Open(Options{Dir: dir, Logger: testLogger(t), Registerer: prometheus.NewRegistry(), DedupWindow: window})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mkAlert(uuid string) *alert.Alert {
	return &alert.Alert{
		UUID: uuid, Time: time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC), Priority: alert.PriorityWarning,
		Rule: "Read sensitive file untrusted", Output: "Warning Sensitive file opened for reading file=/etc/shadow",
		OutputFields: alert.MustFields(map[string]any{"evt.type": "openat", "fd.name": "/etc/shadow", "proc.pid": json.Number("12345678901234")}),
		Source:       "syscall", Tags: []string{"filesystem"}, Hostname: "node-1",
	}
}

func enqueue(t testing.TB, s *Store, output string, uuids ...string) []Outcome {
	t.Helper()
	items := make([]Item, len(uuids))
	for i, u := range uuids {
		items[i] = Item{Output: output, Msg: outputs.Message{Alert: mkAlert(u)}}
	}
	out, err := s.Enqueue(context.Background(), items)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func uuids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%06d", prefix, i)
	}
	return out
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fastOpts delivers quickly with short backoffs, for tests.
func fastOpts() OutputOptions {
	o := DefaultOutputOptions()
	o.BackoffInitial = 5 * time.Millisecond
	o.BackoffMax = 20 * time.Millisecond
	o.BatchWait = time.Millisecond
	return o
}
