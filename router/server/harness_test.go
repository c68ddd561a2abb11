package server

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
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lannerhq/lanner/router/config"
)

// sink is a real HTTP server standing in for a webhook receiver. It records
// the uuid of every alert it accepts and can be told to fail or stall.
type sink struct {
	*httptest.Server
	status atomic.Int32 // answer with this status (0: 200)
	stall  atomic.Bool  // hold requests until unstalled (or the client gives up)

	mu    sync.Mutex
	uuids map[string]int
	unst  chan struct{}
}

func newSink(t testing.TB) *sink {
	s := &sink{uuids: map[string]int{}, unst: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		s.setStall(false)
		s.Close()
	})
	return s
}

func (s *sink) serve(w http.ResponseWriter, r *http.Request) {
	if s.stall.Load() {
		s.mu.Lock()
		ch := s.unst
		s.mu.Unlock()
		select {
		case <-ch:
		case <-r.Context().Done():
			return
		}
	}
	if code := s.status.Load(); code != 0 {
		w.WriteHeader(int(code))
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var docs []struct {
		UUID string `json:"uuid"`
	}
	if bytes.HasPrefix(bytes.TrimSpace(body), []byte("[")) {
		err = json.Unmarshal(body, &docs)
	} else {
		docs = make([]struct {
			UUID string `json:"uuid"`
		}, 1)
		err = json.Unmarshal(body, &docs[0])
	}
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	for _, d := range docs {
		s.uuids[d.UUID]++
	}
	s.mu.Unlock()
}

func (s *sink) setStall(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stall.Swap(on) && !on {
		close(s.unst)
		s.unst = make(chan struct{})
	}
}

func (s *sink) got(uuid string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.uuids[uuid]
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.uuids)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// harness is a real router (real queue on disk, real outputs, real
// listeners on 127.0.0.1) serving in the background.
type harness struct {
	t       testing.TB
	srv     *Server
	cfgPath string
	dataDir string
	base    string // http://127.0.0.1:port
	cancel  context.CancelFunc
	done    chan error
	reload  chan struct{}
}

// routerConfig renders a config whose listeners use free ports; body is
// appended (outputs, routes, ...).
func routerConfig(dataDir, body string) string {
	head := "data_dir: " + dataDir + "\n"
	// A body may bring its own http or grpc section.
	for _, sec := range []string{"http", "grpc"} {
		if !strings.HasPrefix(body, sec+":") && !strings.Contains(body, "\n"+sec+":") {
			head += sec + ":\n  listen: 127.0.0.1:0\n"
		}
	}
	return head + body
}

func webhookOutput(name, url, extra string) string {
	return fmt.Sprintf("  - name: %s\n    type: webhook\n    webhook:\n      address: %s\n%s", name, url, extra)
}

func startRouter(t testing.TB, body string) *harness {
	t.Helper()
	dir := t.TempDir()
	h := &harness{t: t, dataDir: filepath.Join(dir, "data"), cfgPath: filepath.Join(dir, "router.yaml")}
	h.writeConfig(body)
	h.start()
	return h
}

func (h *harness) writeConfig(body string) {
	h.t.Helper()
	if err := os.WriteFile(h.cfgPath, []byte(routerConfig(h.dataDir, body)), 0o600); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) start() {
	t := h.t
	t.Helper()
	cfg, err := config.Load(h.cfgPath, nil)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	h.reload = make(chan struct{})
	srv, err := New(cfg, Options{Logger: testLogger(t), Version: "test", Reload: h.reload, ShutdownTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.srv = srv
	h.base = "http://" + srv.HTTPAddr().String()
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() { h.done <- srv.Serve(ctx) }()
	t.Cleanup(h.stop)
}

// stop shuts the router down and checks it stopped cleanly.
func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("Serve returned %v", err)
		}
	case <-time.After(20 * time.Second):
		h.t.Error("router did not stop within 20s")
	}
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

var testClient = &http.Client{Timeout: 30 * time.Second}

// do sends a request and returns the status and body.
func (h *harness) do(method, path, token, contentEncoding string, body []byte) (int, string) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.base+path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentEncoding != "" {
		req.Header.Set("Content-Encoding", contentEncoding)
	}
	resp, err := testClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (h *harness) post(path string, body string) (int, string) {
	h.t.Helper()
	return h.do(http.MethodPost, path, "", "", []byte(body))
}

var alertSeq atomic.Int64

// falcoAlert returns a valid alert as Falco's http_output sends it.
func falcoAlert(uuid string) string {
	if uuid == "" {
		uuid = fmt.Sprintf("00000000-0000-4000-8000-%012d", alertSeq.Add(1))
	}
	return fmt.Sprintf(`{"uuid":%q,"time":%q,"priority":"Warning","rule":"Read sensitive file untrusted",`+
		`"output":"Warning Sensitive file opened for reading file=/etc/shadow","output_fields":{"fd.name":"/etc/shadow","proc.name":"cat","user.uid":0},`+
		`"source":"syscall","tags":["filesystem"],"hostname":"node-1"}`, uuid, time.Now().UTC().Format(time.RFC3339Nano))
}

func uuidOf(t testing.TB, body string) string {
	t.Helper()
	var r struct {
		UUID string `json:"uuid"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("reply %q: %v", body, err)
	}
	return r.UUID
}

func mustContain(t testing.TB, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Errorf("%q does not contain %q", s, sub)
	}
}
