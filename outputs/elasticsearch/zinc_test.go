package elasticsearch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// zinc is a ZincSearch server (Elasticsearch-compatible API under /es) that
// scripts/setup.d/41-zincsearch.sh builds, run on 127.0.0.1 with its own
// port and data directory for one test.
type zinc struct {
	URL        string // http://127.0.0.1:PORT/es
	User, Pass string
	base       string
	pid        int
}

// cpuTime is the CPU time the Zinc process has used (from /proc).
func (z *zinc) cpuTime() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", z.pid))
	if err != nil {
		return 0
	}
	// Fields after the ")" that ends the command name: utime and stime
	// are the 12th and 13th, in clock ticks (100 per second on Linux).
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	var ut, st int64
	fmt.Sscan(f[11], &ut)
	fmt.Sscan(f[12], &st)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

const zincPass = "Zinc-adm1n-pass#"

func zincBinary() string {
	dir := os.Getenv("LANNER_BACKENDS_DIR")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "lanner-backends")
	}
	return filepath.Join(dir, "bin", "zincsearch")
}

func startZinc(t testing.TB) *zinc {
	t.Helper()
	return startZincEnv(t)
}

// startZincEnv starts ZincSearch with extra ZINC_* settings (benchmarks).
func startZincEnv(t testing.TB, env ...string) *zinc {
	t.Helper()
	bin := zincBinary()
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("LANNER_REQUIRE_BACKENDS") == "1" {
			t.Fatalf("zincsearch not installed at %s (run scripts/setup.d/41-zincsearch.sh)", bin)
		}
		t.Skipf("zincsearch not installed at %s (run scripts/setup.d/41-zincsearch.sh)", bin)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	data := t.TempDir()
	var logs bytes.Buffer
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"ZINC_FIRST_ADMIN_USER=admin", "ZINC_FIRST_ADMIN_PASSWORD="+zincPass,
		"ZINC_DATA_PATH="+data, "ZINC_SERVER_ADDRESS=127.0.0.1", fmt.Sprintf("ZINC_SERVER_PORT=%d", port),
		"ZINC_TELEMETRY=false", "ZINC_SENTRY=false", "ZINC_PROMETHEUS_ENABLE=false", "GIN_MODE=release")
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the test binary
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("zincsearch log:\n%s", logs.String())
		}
	})
	z := &zinc{URL: fmt.Sprintf("http://127.0.0.1:%d/es", port), User: "admin", Pass: zincPass, base: fmt.Sprintf("http://127.0.0.1:%d", port), pid: cmd.Process.Pid}
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(z.base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return z
			}
		}
		select {
		case <-done:
			t.Fatalf("zincsearch exited:\n%s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("zincsearch not ready after 30s:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// search returns the _source of up to size documents of index.
func (z *zinc) search(t testing.TB, index string, size int) []map[string]any {
	t.Helper()
	code, b := z.query(t, index, fmt.Sprintf(`{"query":{"match_all":{}},"size":%d}`, size))
	if code != 200 {
		return nil // index not there yet
	}
	var r struct {
		Hits struct {
			Hits []struct {
				ID     string         `json:"_id"`
				Source map[string]any `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("search answer: %v: %s", err, b)
	}
	var out []map[string]any
	for _, h := range r.Hits.Hits {
		h.Source["_id"] = h.ID
		out = append(out, h.Source)
	}
	return out
}

// count returns how many documents of index are searchable (-1 when the
// index does not answer yet).
func (z *zinc) count(t testing.TB, index string) int {
	t.Helper()
	code, b := z.query(t, index, `{"query":{"match_all":{}},"size":0,"track_total_hits":true}`)
	var r struct {
		Hits struct {
			Total struct {
				Value int `json:"value"`
			} `json:"total"`
		} `json:"hits"`
	}
	if code != 200 || json.Unmarshal(b, &r) != nil {
		return -1
	}
	return r.Hits.Total.Value
}

// query posts a search body to index and returns the status and answer.
func (z *zinc) query(t testing.TB, index, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, z.URL+"/"+index+"/_search", strings.NewReader(body))
	req.SetBasicAuth(z.User, z.Pass)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// waitCount polls until index holds n searchable documents, at most limit.
func (z *zinc) waitCount(t testing.TB, index string, n int, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		got := z.count(t, index)
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("index %s: %d of %d documents searchable after %s", index, got, n, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitDocs polls until index holds n documents (Zinc makes them searchable
// about a second after indexing).
func (z *zinc) waitDocs(t testing.TB, index string, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		docs := z.search(t, index, n+10)
		if len(docs) >= n {
			return docs
		}
		if time.Now().After(deadline) {
			t.Fatalf("index %s: %d of %d documents searchable after 20s", index, len(docs), n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
