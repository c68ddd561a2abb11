package templates

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lannerhq/lanner/alert"
)

func TestDefaultsRender(t *testing.T) {
	for _, name := range []string{Slack, Webhook, Text} {
		tm, err := Load("", name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out, err := Execute(tm, Data{Alert: Sample(), Format: "all"})
		if err != nil {
			t.Fatal(err)
		}
		if name != Text && !json.Valid(out) {
			t.Errorf("%s does not render JSON:\n%s", name, out)
		}
	}
}

func TestSlackFormats(t *testing.T) {
	tm, err := Load("", Slack)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		format           string
		wantText, wantFd bool
	}{{"all", true, true}, {"text", true, false}, {"fields", false, true}} {
		out, err := Execute(tm, Data{Alert: Sample(), Format: c.format})
		if err != nil {
			t.Fatal(err)
		}
		var m struct {
			Attachments []struct {
				Text   string
				Fields []struct{ Title, Value string }
			}
		}
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("%s: %v\n%s", c.format, err, out)
		}
		a := m.Attachments[0]
		if (a.Text != "") != c.wantText {
			t.Errorf("%s: text present=%v", c.format, a.Text != "")
		}
		hasFd := false
		for _, f := range a.Fields {
			if f.Title == "fd.name" && f.Value == "/etc/shadow" {
				hasFd = true
			}
		}
		if hasFd != c.wantFd {
			t.Errorf("%s: output field present=%v", c.format, hasFd)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct{ name, body, want string }{
		{"syntax.tmpl", "{{ .Rule ", "unclosed action"},
		{"func.tmpl", "{{ nosuchfunc .Rule }}", `function "nosuchfunc" not defined`},
		{"field.tmpl", "{{ .NoSuchField }}", "does not render a sample alert"},
	}
	for _, c := range cases {
		_, err := Load(write(c.name, c.body), Slack)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.name) {
			t.Errorf("%s: got %v, want an error naming the file and %q", c.name, err, c.want)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing.tmpl"), Slack); err == nil {
		t.Error("missing file: want an error")
	}
	tm, err := Load(write("ok.tmpl", `{{ field "k8s.pod.name" . }}|{{ .Priority | upper }}|{{ truncate 5 .Rule }}`), Slack)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := Execute(tm, Data{Alert: Sample()})
	if got, want := string(out), "web-0|WARNING|Read…"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestFuncs(t *testing.T) {
	if got := Truncate(3, "héllo"); got != "hé…" {
		t.Errorf("Truncate = %q", got)
	}
	if got := Truncate(10, "short"); got != "short" {
		t.Errorf("Truncate = %q", got)
	}
	if PriorityColor(alert.PriorityCritical) == PriorityColor(alert.PriorityDebug) {
		t.Error("colours should differ by priority")
	}
	if got := field("user.uid", Sample()); got != "0" {
		t.Errorf("field = %q", got)
	}
	if got := field("proc.tty", Sample()); got != "<NA>" {
		t.Errorf("field null = %q", got)
	}
	if got := dflt("x", ""); got != "x" {
		t.Errorf("default = %v", got)
	}
}

// FuzzParse: a user template, however broken, is an error, never a panic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"{{ .Rule }}", "{{ truncate -1 .Output }}", "{{ first 2 .Tags }}", "{{ json .OutputFields }}", "{{ index .OutputFields 3 }}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = Parse("fuzz", s)
	})
}
