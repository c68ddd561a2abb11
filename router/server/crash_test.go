package server

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lannerhq/lanner/router/ingestpb"
)

// buildRouter compiles cmd/lanner-router into dir.
func buildRouter(t testing.TB, dir string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go"
	}
	bin := filepath.Join(dir, "lanner-router")
	cmd := exec.Command(goBin, "build", "-o", bin, "github.com/lannerhq/lanner/cmd/lanner-router")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// grpcAddrOf finds the grpc listen address in a rendered config.
func grpcAddrOf(t testing.TB, cfg string) string {
	t.Helper()
	var addr string
	if _, err := fmt.Sscanf(cfg[strings.Index(cfg, "grpc:"):], "grpc:\n  listen: %s", &addr); err != nil {
		t.Fatalf("no grpc address in config: %v", err)
	}
	return addr
}

// routerProc is the router binary running as a subprocess.
type routerProc struct {
	cmd    *exec.Cmd
	base   string
	stderr *bytes.Buffer
}

func startProc(t testing.TB, bin, cfgPath, httpAddr string) *routerProc {
	t.Helper()
	p := &routerProc{base: "http://" + httpAddr, stderr: &bytes.Buffer{}}
	p.cmd = exec.Command(bin, "--config", cfgPath)
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(p.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("router not ready after 20s; stderr:\n%s", p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCrashLosesNothingAcknowledged runs the real binary under load, kills
// it with SIGKILL while alerts are being acknowledged and delivered, starts
// it again on the same data dir and checks that the sink got every alert
// that was ever acknowledged (duplicates are allowed: delivery is
// at-least-once).
func TestCrashLosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the router binary")
	}
	start := time.Now()
	dir := t.TempDir()
	bin := buildRouter(t, dir)
	s := newSink(t)
	// A slow sink keeps a backlog on disk at the moment of the kill.
	var slow atomic.Bool
	slow.Store(true)
	inner := s.Config.Handler
	s.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slow.Load() {
			time.Sleep(10 * time.Millisecond)
		}
		inner.ServeHTTP(w, r)
	})
	httpAddr := freePort(t)
	cfgPath := filepath.Join(dir, "router.yaml")
	cfg := fmt.Sprintf("http:\n  listen: %s\ngrpc:\n  listen: %s\ndata_dir: %s\noutputs:\n%s",
		httpAddr, freePort(t), filepath.Join(dir, "data"),
		webhookOutput("sink", s.URL, "    queue:\n      concurrency: 2\n      batch_size: 20\n"))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	p := startProc(t, bin, cfgPath, httpAddr)
	t.Logf("built in %s", t0.Sub(start).Round(time.Millisecond))

	var mu sync.Mutex
	acked := map[string]bool{}
	var sent atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	var wg sync.WaitGroup
	const workers, maxPerWorker = 8, 5000
	for w := range workers {
		wg.Add(1)
		go func() { // bounded: maxPerWorker alerts, ctx, or the first error after the kill
			defer wg.Done()
			for i := range maxPerWorker {
				if ctx.Err() != nil {
					return
				}
				u := fmt.Sprintf("c0000000-0000-4000-8000-%04d%08d", w, i)
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.base+"/", bytes.NewReader([]byte(falcoAlert(u))))
				req.Header.Set("Content-Type", "application/json")
				sent.Add(1)
				resp, err := client.Do(req)
				if err != nil {
					return // the router is gone
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					mu.Lock()
					acked[u] = true
					mu.Unlock()
				}
			}
		}()
	}
	// gRPC streams too: an alert counts as acknowledged when its batch's
	// ack says accepted or duplicate (not rejected, not retry).
	grpcAddr := grpcAddrOf(t, cfg)
	for w := range 2 {
		wg.Add(1)
		go func() { // bounded: 200 batches, ctx, or the first error after the kill
			defer wg.Done()
			st, err := dialGRPC(t, grpcAddr, nil).Ingest(ctx)
			if err != nil {
				return
			}
			for b := range 200 {
				batch := &ingestpb.AlertBatch{BatchId: fmt.Sprint(b)}
				var ids []string
				for i := range 50 {
					u := fmt.Sprintf("d0000000-0000-4000-8000-%02d%04d%04d", w, b, i)
					ids = append(ids, u)
					batch.Alerts = append(batch.Alerts, []byte(falcoAlert(u)))
				}
				if err := st.Send(batch); err != nil {
					return
				}
				ack, err := st.Recv()
				if err != nil {
					return
				}
				skip := map[uint32]bool{}
				for _, r := range ack.Retry {
					skip[r] = true
				}
				for _, r := range ack.Rejected {
					skip[r.Index] = true
				}
				mu.Lock()
				for i, u := range ids {
					if !skip[uint32(i)] {
						acked[u] = true
					}
				}
				mu.Unlock()
			}
		}()
	}
	// Kill mid-load: once a good number were acknowledged and some, but not
	// all, were delivered.
	waitFor(t, "load under way", 15*time.Second, func() bool {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		return n >= 2000 && s.count() > 0
	})
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
	wg.Wait()
	mu.Lock()
	nAcked := len(acked)
	mu.Unlock()
	deliveredBefore := s.count()
	t.Logf("HTTP requests sent %d; acknowledged alerts (HTTP + gRPC) %d; delivered before the kill %d", sent.Load(), nAcked, deliveredBefore)
	if deliveredBefore >= nAcked {
		t.Logf("note: the sink had caught up before the kill; the backlog test is weaker this run")
	}

	slow.Store(false)
	p2 := startProc(t, bin, cfgPath, httpAddr)
	waitFor(t, "every acknowledged alert delivered after the restart", 60*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for u := range acked {
			if s.got(u) == 0 {
				return false
			}
		}
		return true
	})
	dups := 0
	s.mu.Lock()
	for _, n := range s.uuids {
		dups += n - 1
	}
	s.mu.Unlock()
	t.Logf("all %d acknowledged alerts delivered (%d duplicate deliveries)", nAcked, dups)

	// The same binary reloads on SIGHUP (a second output appears) and
	// stops cleanly on SIGTERM with exit status 0.
	s2 := newSink(t)
	if err := os.WriteFile(cfgPath, []byte(cfg+webhookOutput("second", s2.URL, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p2.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "reload on SIGHUP", 20*time.Second, func() bool {
		resp, err := http.Get(p2.base + "/api/v1/outputs")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return strings.Contains(b.String(), `"name":"second"`)
	})
	resp, err := http.Post(p2.base+"/", "application/json", strings.NewReader(falcoAlert("e0000000-0000-4000-8000-000000000001")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitFor(t, "delivery to the reloaded output", 20*time.Second, func() bool { return s2.got("e0000000-0000-4000-8000-000000000001") > 0 })
	if err := p2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p2.cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v\n%s", err, p2.stderr)
	}
}
