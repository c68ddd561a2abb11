package agent

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lannerhq/lanner/alert"
	"github.com/lannerhq/lanner/router/config"
	"github.com/lannerhq/lanner/router/server"
)

// sink is the webhook receiver at the far end of agent → router → webhook.
type sink struct {
	mu     sync.Mutex
	alerts []alert.Alert
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	a, err := alert.Decode(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.alerts = append(s.alerts, *a)
	s.mu.Unlock()
}

func (s *sink) count(rule, field, value string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, a := range s.alerts {
		if v, _ := a.OutputFields.Get(field); a.Rule == rule && v.String() == value {
			n++
		}
	}
	return n
}

type router struct {
	cancel context.CancelFunc
	done   chan error
}

func startRouterAt(t *testing.T, dir, grpcAddr, sinkURL string) *router {
	t.Helper()
	cfgPath := filepath.Join(dir, "router.yaml")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`data_dir: %s
http:
  listen: 127.0.0.1:0
grpc:
  listen: %s
outputs:
  - name: hook
    type: webhook
    webhook:
      address: %s
`, filepath.Join(dir, "data"), grpcAddr, sinkURL)), 0o600)
	cfg, err := config.Load(cfgPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	var srv *server.Server
	for i := 0; i < 50; i++ { // the port may linger briefly after a stop
		if srv, err = server.New(cfg, server.Options{Logger: testLogger(t), Version: "test"}); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &router{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- srv.Serve(ctx) }()
	return r
}

func (r *router) stop(t *testing.T) {
	r.cancel()
	if err := <-r.done; err != nil {
		t.Errorf("router: %v", err)
	}
}

// TestAgentToRouterSurvivesOutage: alerts raised while the router is down
// wait in the agent's spool and arrive once it is back.
func TestAgentToRouterSurvivesOutage(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	hook := &sink{}
	sinkSrv := httptest.NewServer(hook)
	defer sinkSrv.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	grpcAddr := l.Addr().String()
	l.Close()

	r := startRouterAt(t, dir, grpcAddr, sinkSrv.URL)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	rules := officialRules(t) // t.Fatal must not run in the goroutine: done would never be sent
	go func() {
		done <- Run(ctx, Config{RulesPaths: []string{rules}, Router: grpcAddr,
			SpoolDir: filepath.Join(dir, "spool"), Hostname: "lanner-e2e", Logger: testLogger(t)})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
	}()

	const rule = "Read sensitive file untrusted"
	waitUntil(t, 30*time.Second, "first alert at the webhook", func() bool {
		exec.Command("/bin/cat", "/etc/shadow").Run()
		return hook.count(rule, "fd.name", "/etc/shadow") > 0
	})

	r.stop(t)
	// Raised while the router is down, by a binary no other step runs.
	outageCat := filepath.Join(dir, "outagecat")
	copyFile(t, "/bin/cat", outageCat, 0o755)
	waitUntil(t, 30*time.Second, "the outage alert to reach the spool", func() bool {
		exec.Command(outageCat, "/etc/shadow").Run()
		st, err := os.Stat(filepath.Join(dir, "spool"))
		return err == nil && st.IsDir() && hook.count(rule, "proc.name", "outagecat") == 0 && spoolHas(t, filepath.Join(dir, "spool"), "outagecat")
	})
	r = startRouterAt(t, dir, grpcAddr, sinkSrv.URL)
	defer r.stop(t)
	waitUntil(t, 60*time.Second, "the alert raised during the outage", func() bool {
		return hook.count(rule, "proc.name", "outagecat") > 0
	})
}

// spoolHas reports whether any spool segment holds text.
func spoolHas(t *testing.T, dir, text string) bool {
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	for _, s := range segs {
		if b, err := os.ReadFile(s); err == nil && strings.Contains(string(b), text) {
			return true
		}
	}
	return false
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
