package agent

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestReloadRules swaps the rules on a reload request: a rule on a syscall
// the first ruleset did not capture (mkdirat) starts firing, so the kernel
// filter followed the new rules too; a broken file keeps the loaded rules.
func TestReloadRules(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yaml")
	write := func(body string) {
		if err := os.WriteFile(rules, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`
- rule: Shadow read
  desc: marker
  condition: evt.type in (open, openat, openat2) and fd.name = /etc/shadow
  output: read %fd.name
  priority: WARNING
`)
	out := &syncBuffer{}
	reload := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{RulesPaths: []string{rules}, Stdout: out, Reload: reload, Logger: testLogger(t)})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	waitUntil(t, 20*time.Second, "the marker rule", func() bool {
		exec.Command("/bin/cat", "/etc/shadow").Run()
		_, ok := findAlert(out.alerts(t), "Shadow read")
		return ok
	})

	write(`
- rule: Directory made
  desc: a rule on a syscall the first ruleset did not need
  condition: evt.type in (mkdir, mkdirat) and evt.arg.path endswith lanner-reload-probe
  output: mkdir %evt.arg.path
  priority: NOTICE
`)
	reload <- struct{}{}
	probe := filepath.Join(dir, "lanner-reload-probe")
	waitUntil(t, 20*time.Second, "the reloaded rule", func() bool {
		os.Remove(probe)
		exec.Command("/bin/mkdir", probe).Run()
		_, ok := findAlert(out.alerts(t), "Directory made")
		return ok
	})

	write("- rule: [broken\n")
	reload <- struct{}{}
	time.Sleep(500 * time.Millisecond)
	n := len(out.alerts(t))
	waitUntil(t, 20*time.Second, "the kept rule after a bad reload", func() bool {
		os.Remove(probe)
		exec.Command("/bin/mkdir", probe).Run()
		return len(out.alerts(t)) > n
	})
}
