package outputtest

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// FindBackend looks for a test-server binary installed by scripts/setup.d
// in $LANNER_BACKENDS_DIR/bin, then $HOME/.cache/lanner-backends/bin.
func FindBackend(name string) (path string, looked []string) {
	var dirs []string
	if d := os.Getenv("LANNER_BACKENDS_DIR"); d != "" {
		dirs = append(dirs, filepath.Join(d, "bin"))
	}
	if h, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(h, ".cache", "lanner-backends", "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, dirs
		}
	}
	return "", dirs
}

// BackendBinary returns FindBackend's path. When the binary is missing the
// test is skipped, or fails when LANNER_REQUIRE_BACKENDS=1.
func BackendBinary(tb testing.TB, name string) string {
	tb.Helper()
	p, dirs := FindBackend(name)
	if p != "" {
		return p
	}
	msg := fmt.Sprintf("%s is not installed (run make setup, or scripts/setup.d/*.sh); looked in %v", name, dirs)
	if os.Getenv("LANNER_REQUIRE_BACKENDS") == "1" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
	return ""
}

// StartProcess starts a test server, waits until GET readyURL answers 200
// (at most 15s) and stops it (kill, wait) when the test ends. It returns the
// process's output so far and to come, to show when a test fails.
func StartProcess(tb testing.TB, readyURL string, bin string, args ...string) *LogBuffer {
	tb.Helper()
	cmd := exec.Command(bin, args...)
	out := &LogBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(readyURL)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return out
			}
		}
		select {
		case <-exited:
			tb.Fatalf("%s exited early:\n%s", filepath.Base(bin), tail(out.String(), 2000))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s not ready at %s after 15s:\n%s", filepath.Base(bin), readyURL, tail(out.String(), 2000))
		}
	}
}

// FreeAddr returns a 127.0.0.1:port nobody listens on (for now).
func FreeAddr(tb testing.TB) string { return freeAddr(tb) }
