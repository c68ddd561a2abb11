package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&errb, nil))
	code = dispatch(context.Background(), args, &out, &errb, logger)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const officialDir = "../../../shared/testdata/falco"

func TestValidateOfficialFilesStacked(t *testing.T) {
	var args []string
	for _, n := range []string{"falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"} {
		p := filepath.Join(officialDir, n)
		if _, err := os.Stat(p); err != nil {
			t.Skipf("official rules not available: %v", err)
		}
		args = append(args, "-r", p)
	}
	code, out, errs := runCmd(t, append([]string{"validate"}, args...)...)
	if code != 0 || out != "" {
		t.Errorf("validate official files: exit %d, output:\n%s\n%s", code, out, errs)
	}
}

func TestValidateDefaultRuleset(t *testing.T) {
	code, out, errs := runCmd(t, "validate")
	if code != 0 || out != "" {
		t.Errorf("validate default rules: exit %d, output:\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(errs, `"msg":"rules validated"`) {
		t.Errorf("no summary log line: %s", errs)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a.yaml", strings.Join([]string{
		"- macro: m",
		"  condition: >",
		"    proc.nme = bash",
		"- rule: R",
		"  desc: d",
		"  condition: m and (evt.type = open",
		"  output: o",
		"  priority: Warning",
		"- rule: S",
		"  desc: d",
		"  condition: m and evt.type = open",
		"  output: \"%proc.nam happened\"",
		"  priority: Warning",
		"",
	}, "\n"))
	b := writeFile(t, dir, "b.yaml", "- rule: T\n  enabled: false\n")
	code, out, _ := runCmd(t, "validate", "-r", a, "-r", b)
	want := []string{
		a + ":3:5: unknown field \"proc.nme\"",
		a + ":6:36: rule 'R': syntax error: expected a ')' token",
		a + ":12:12: output: unknown field \"proc.nam\"",
		b + ":1:3: rule 'T' has 'enabled' key but no rule by that name already exists",
		b + ":1:3: warning: using 'enabled' alone to toggle a rule is deprecated: use 'override: {enabled: replace}'",
	}
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if got := strings.TrimRight(out, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("output:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

func TestValidateDirectoryAndMissingFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "10-a.yaml", "- list: l\n  items: [a]\n")
	writeFile(t, dir, "20-b.yml", "- rule: R\n  desc: d\n  condition: evt.type = execve and proc.name in (l)\n  output: o\n  priority: info\n")
	writeFile(t, dir, "notes.txt", "not rules")
	if code, out, _ := runCmd(t, "validate", "-r", dir); code != 0 || out != "" {
		t.Errorf("validate dir: exit %d, output %q", code, out)
	}
	if code, out, _ := runCmd(t, "validate", "-r", filepath.Join(dir, "missing.yaml")); code != 1 || !strings.Contains(out, "missing.yaml") {
		t.Errorf("validate missing file: exit %d, output %q", code, out)
	}
}

func TestCommands(t *testing.T) {
	if code, out, _ := runCmd(t, "--version"); code != 0 || !strings.HasPrefix(out, "lanner-agent ") {
		t.Errorf("--version: %d %q", code, out)
	}
	if code, out, _ := runCmd(t, "--help"); code != 0 || !strings.Contains(out, "list-fields") {
		t.Errorf("--help: %d %q", code, out)
	}
	if code, _, _ := runCmd(t); code != 2 {
		t.Errorf("no args: exit %d, want 2", code)
	}
	if code, _, errs := runCmd(t, "bogus"); code != 2 || !strings.Contains(errs, "unknown command") {
		t.Errorf("bogus: %d %q", code, errs)
	}
	if code, _, _ := runCmd(t, "validate", "--nope"); code != 2 {
		t.Errorf("bad flag: exit %d, want 2", code)
	}
	code, out, _ := runCmd(t, "list-fields")
	if code != 0 || !strings.Contains(out, "proc.name") || !strings.Contains(out, "proc.aname[(ARG)]") {
		t.Errorf("list-fields: exit %d, output starts %q", code, out[:min(len(out), 200)])
	}
}

func TestValidateReportsDisabledRules(t *testing.T) {
	f := filepath.Join(t.TempDir(), "disabled.yaml")
	os.WriteFile(f, []byte("- rule: off\n  desc: d\n  condition: proc.nosuchfield = x\n  output: o\n  priority: INFO\n  enabled: false\n"), 0o644)
	var out, errb bytes.Buffer
	code := dispatch(context.Background(), []string{"validate", "-r", f}, &out, &errb, slog.New(slog.DiscardHandler))
	if code == 0 || !strings.Contains(out.String()+errb.String(), "proc.nosuchfield") {
		t.Fatalf("exit %d, output %q %q", code, out.String(), errb.String())
	}
}
