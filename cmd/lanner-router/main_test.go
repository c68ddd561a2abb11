package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCommands(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(good, `outputs:
  - name: hooks
    type: webhook
    webhook:
      address: http://127.0.0.1:9/hook
routes:
  - name: critical
    match:
      priority: {at_least: Critical}
    outputs: [hooks]
default:
  outputs: []
`)
	write(bad, `outputs:
  - name: hooks
    type: webhook
    webhook:
      adress: http://127.0.0.1:9/hook
`)
	const critical = `{"time":"2026-11-22T10:00:00Z","priority":"Critical","rule":"Terminal shell in container","output":"o"}`
	tests := []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stdout string
		stderr string
	}{
		{name: "version", args: []string{"--version"}, stdout: "lanner-router dev"},
		{name: "help", args: []string{"--help"}, stderr: "check-config --config FILE"},
		{name: "unknown flag", args: []string{"--nope"}, code: 2, stderr: "flag provided but not defined"},
		{name: "stray argument", args: []string{"serve"}, code: 2, stderr: `unexpected argument "serve"`},
		{name: "check-config ok", args: []string{"check-config", "--config", good}, stdout: "OK (1 outputs, 1 routes)"},
		{name: "check-config bad", args: []string{"check-config", "--config", bad}, code: 1, stderr: bad + `:5: output "hooks": unknown key "adress"`},
		{name: "check-config missing file", args: []string{"check-config", "--config", filepath.Join(dir, "nope.yaml")}, code: 1, stderr: "nope.yaml"},
		{name: "check-config without --config", args: []string{"check-config"}, code: 2, stderr: "--config FILE is required"},
		{name: "route-test critical", args: []string{"route-test", "--config", good}, stdin: critical, stdout: `hooks  (route "critical")`},
		{name: "route-test warning", args: []string{"route-test", "--config", good}, stdin: strings.Replace(critical, "Critical", "Warning", 1), stdout: "delivered to no output"},
		{name: "route-test bad alert", args: []string{"route-test", "--config", good}, stdin: `{"rule":"x"}`, code: 1, stderr: `field "priority"`},
		{name: "run with a bad config", args: []string{"--config", bad}, code: 1, stderr: `unknown key`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, strings.NewReader(tt.stdin), &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.stdout) {
				t.Errorf("stdout %q does not contain %q", stdout.String(), tt.stdout)
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tt.stderr)
			}
		})
	}
}
