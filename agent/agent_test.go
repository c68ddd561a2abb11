package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lannerhq/lanner/alert"
)

// The test binary doubles as the programs the tests run: with
// LANNER_AGENT_HELPER set, TestMain performs that action instead of testing.
func TestMain(m *testing.M) {
	if action := os.Getenv("LANNER_AGENT_HELPER"); action != "" {
		os.Exit(helperAction(action))
	}
	os.Exit(m.Run())
}

func helperAction(action string) int {
	switch action {
	case "ptrace-attach":
		target := exec.Command("/bin/sleep", "5")
		if err := target.Start(); err != nil {
			return 1
		}
		defer target.Process.Kill()
		if err := syscall.PtraceAttach(target.Process.Pid); err == nil {
			var ws syscall.WaitStatus
			syscall.Wait4(target.Process.Pid, &ws, 0, nil)
			syscall.PtraceDetach(target.Process.Pid)
		}
		return 0
	case "ptrace-traceme":
		syscall.RawSyscall(syscall.SYS_PTRACE, syscall.PTRACE_TRACEME, 0, 0)
		return 0
	case "memfd-exec":
		fd, err := unix.MemfdCreate("lanner-test", 0)
		if err != nil {
			return 1
		}
		bin, err := os.ReadFile("/bin/true")
		if err != nil {
			return 1
		}
		unix.Write(fd, bin)
		syscall.Exec(fmt.Sprintf("/proc/self/fd/%d", fd), []string{"lanner-memfd"}, nil)
		return 1
	case "traversal":
		f, err := os.Open("/etc/../etc/../etc/shadow")
		if err == nil {
			f.Close()
		}
		return 0
	case "wait-then-shell":
		// A long-running "web server" that spawns a shell once told to.
		flag := os.Getenv("LANNER_AGENT_FLAG")
		for i := 0; i < 600; i++ {
			if _, err := os.Stat(flag); err == nil {
				exec.Command("/bin/sh", "-c", "true").Run()
				return 0
			}
			time.Sleep(50 * time.Millisecond)
		}
		return 1
	}
	return 2
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("LANNER_REQUIRE_PRIVILEGED") == "1" {
			t.Fatal("needs root (LANNER_REQUIRE_PRIVILEGED=1)")
		}
		t.Skip("needs root to load eBPF programs")
	}
}

// syncBuffer collects the agent's stdout.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) alerts(t *testing.T) []alert.Alert {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []alert.Alert
	sc := bufio.NewScanner(bytes.NewReader(b.buf.Bytes()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		a, err := alert.Decode(sc.Bytes())
		if err != nil {
			t.Fatalf("agent printed a bad alert: %v: %s", err, sc.Text())
		}
		out = append(out, *a)
	}
	return out
}

func officialRules(t *testing.T) string {
	p, err := filepath.Abs(filepath.Join("..", "..", "shared", "testdata", "falco", "falco_rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("official rules: %v", err)
	}
	return p
}

// TestOfficialRulesOnRealActions runs the agent with Falco's falco_rules.yaml
// unchanged, performs real actions, and checks that each fires its official
// rule with output_fields that match what happened.
func TestOfficialRulesOnRealActions(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// A "web server" started before the agent: its ancestry and command line
	// must come from the /proc bootstrap.
	nginx := filepath.Join(dir, "nginx")
	copyFile(t, self, nginx, 0o755)
	flagFile := filepath.Join(dir, "go")
	server := exec.Command(nginx, "-g", "daemon off;")
	server.Env = append(os.Environ(), "LANNER_AGENT_HELPER=wait-then-shell", "LANNER_AGENT_FLAG="+flagFile)
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	defer server.Process.Kill()

	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	rules := officialRules(t) // t.Fatal must not run in the goroutine: done would never be sent
	go func() {
		done <- Run(ctx, Config{RulesPaths: []string{rules}, Stdout: out,
			Hostname: "lanner-test", AllMatches: true, Logger: testLogger(t)})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	waitForCapture(t, out)

	logFile := "/var/log/lanner-agent-test.log"
	os.WriteFile(logFile, []byte("old entries\n"), 0o644)
	defer os.Remove(logFile)
	shm := "/dev/shm/lanner-agent-test"
	copyFile(t, "/bin/true", shm, 0o755)
	defer os.Remove(shm)
	keyDir := filepath.Join(dir, "keys")
	os.MkdirAll(keyDir, 0o700)

	helper := func(action string) {
		cmd := exec.Command(self)
		cmd.Env = append(os.Environ(), "LANNER_AGENT_HELPER="+action)
		cmd.Run()
	}
	run := func(name string, args ...string) { exec.Command(name, args...).Run() }

	run("/bin/cat", "/etc/shadow")
	helper("traversal")
	helper("ptrace-attach")
	helper("ptrace-traceme")
	helper("memfd-exec")
	run(shm)
	run("/bin/ln", "-s", "/etc/shadow", filepath.Join(dir, "shadow-symlink"))
	run("/bin/ln", "/etc/shadow", filepath.Join(dir, "shadow-hardlink"))
	run("/bin/sh", "-c", ": > "+logFile)
	run("/usr/bin/find", keyDir, "-name", "id_rsa")
	os.WriteFile(flagFile, nil, 0o644)
	server.Wait()

	want := []struct {
		rule   string
		fields map[string]string
	}{
		{"Read sensitive file untrusted", map[string]string{"fd.name": "/etc/shadow", "proc.name": "cat"}},
		{"Directory traversal monitored file read", map[string]string{"fd.name": "/etc/shadow", "fd.nameraw": "/etc/../etc/../etc/shadow"}},
		{"PTRACE attached to process", map[string]string{"evt.type": "ptrace", "user.uid": "0", "user.name": "root"}},
		{"PTRACE anti-debug attempt", map[string]string{"evt.type": "ptrace"}},
		{"Fileless execution via memfd_create", map[string]string{"evt.type": "execve", "evt.res": "SUCCESS", "user.name": "root"}},
		{"Execution from /dev/shm", map[string]string{"proc.exepath": shm, "evt.type": "execve"}},
		{"Create Symlink Over Sensitive Files", map[string]string{"evt.arg.target": "/etc/shadow"}},
		{"Create Hardlink Over Sensitive Files", map[string]string{"evt.arg.oldpath": "/etc/shadow"}},
		{"Clear Log Activities", map[string]string{"fd.name": logFile}},
		{"Search Private Keys or Passwords", map[string]string{"proc.name": "find"}},
		{"Run shell untrusted", map[string]string{"proc.pname": "nginx", "proc.pcmdline": "nginx -g daemon off;"}},
	}
	// Other tests (other packages run in parallel) act on this host too and
	// the agent sees them all: look for an alert of the rule whose fields
	// are the ones of our action.
	deadline := time.Now().Add(15 * time.Second)
	for _, w := range want {
		for {
			var seen []alert.Fields
			found := false
			for _, a := range out.alerts(t) {
				if a.Rule != w.rule {
					continue
				}
				seen = append(seen, a.OutputFields)
				if fieldsMatch(a.OutputFields, w.fields) {
					if a.Hostname != "lanner-test" || a.UUID == "" || a.Source != "syscall" {
						t.Errorf("%s: alert metadata %+v", w.rule, a)
					}
					found = true
					break
				}
			}
			if found {
				break
			}
			if time.Now().After(deadline) {
				var fired []string
				for _, a := range out.alerts(t) {
					fired = append(fired, a.Rule)
				}
				t.Errorf("rule %q did not fire with %v; its alerts: %v; all fired: %q", w.rule, w.fields, seen, fired)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func fieldsMatch(got alert.Fields, want map[string]string) bool {
	for k, v := range want {
		if g, _ := got.Get(k); g.String() != v {
			return false
		}
	}
	return true
}

func findAlert(alerts []alert.Alert, rule string) (alert.Alert, bool) {
	for _, a := range alerts {
		if a.Rule == rule {
			return a, true
		}
	}
	return alert.Alert{}, false
}

// waitForCapture blocks until the agent reports a marker action, so the
// actions under test happen after capture is reading.
func waitForCapture(t *testing.T, out *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		exec.Command("/bin/cat", "/etc/shadow").Run()
		for _, a := range out.alerts(t) {
			if a.Rule == "Read sensitive file untrusted" {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal("agent produced no alert for the marker action within 20s")
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

func testLogger(t *testing.T) *slogLogger { return newTestLogger(t) }

func TestDropAlertShape(t *testing.T) {
	a := dropAlert("h", captureCounters(1000, 10), captureCounters(0, 0), 2)
	if n, _ := a.OutputFields.Get("n_drops"); a.Priority != alert.PriorityCritical || n != alert.UintValue(10) || !strings.Contains(a.Output, "10 syscall events dropped") {
		t.Fatalf("drop alert = %+v", a)
	}
	b, _ := json.Marshal(a)
	if _, err := alert.Decode(b); err != nil {
		t.Fatalf("drop alert does not round-trip: %v", err)
	}
}

// TestConnectAndStackedRules connects to a local TCP listener. Falco's
// official rules deliberately ignore loopback traffic, so a rule stacked
// after falco_rules.yaml (with an `append` to an official list as well)
// checks the socket fields the agent resolved.
func TestConnectAndStackedRules(t *testing.T) {
	requireRoot(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := lis.Addr().(*net.TCPAddr).Port
	extra := filepath.Join(t.TempDir(), "local.yaml")
	os.WriteFile(extra, []byte(fmt.Sprintf(`
- list: shell_binaries
  items: [lanner-test-shell]
  override:
    items: append
- rule: Local TCP connect
  desc: a test rule on top of the official ones
  condition: evt.type = connect and fd.sport = %d and fd.l4proto = tcp and proc.name = curl
  output: connect %%fd.name (sip=%%fd.sip sport=%%fd.sport cip=%%fd.cip typechar=%%fd.typechar res=%%evt.res)
  priority: NOTICE
  tags: [test]
`, port)), 0o644)
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed")
	}
	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	rules := officialRules(t) // t.Fatal must not run in the goroutine: done would never be sent
	go func() {
		done <- Run(ctx, Config{RulesPaths: []string{rules, extra}, Stdout: out,
			Hostname: "lanner-test", Logger: testLogger(t)})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	waitForCapture(t, out)
	deadline := time.Now().Add(15 * time.Second)
	for {
		exec.Command(curl, "-s", "-m", "1", fmt.Sprintf("http://127.0.0.1:%d/", port)).Run()
		if a, ok := findAlert(out.alerts(t), "Local TCP connect"); ok {
			f := a.OutputFields
			get := func(k string) string { v, _ := f.Get(k); return v.String() }
			if get("fd.sip") != "127.0.0.1" || get("fd.sport") != fmt.Sprint(port) ||
				get("fd.typechar") != "4" ||
				(get("evt.res") != "SUCCESS" && get("evt.res") != "EINPROGRESS") {
				t.Errorf("connect fields = %v", f)
			}
			if name := get("fd.name"); !strings.HasSuffix(name, fmt.Sprintf("->127.0.0.1:%d", port)) {
				t.Errorf("fd.name = %q", name)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no alert for the local connect")
		}
		time.Sleep(200 * time.Millisecond)
	}
}
