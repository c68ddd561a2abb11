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
	a := Sample()
	// Every form a template can hand field and fields gives the same text.
	for _, v := range []any{a, Data{Alert: a}, &Data{Alert: a}, a.OutputFields, a.OutputFields.Map()} {
		if got, err := field("user.uid", v); err != nil || got != "0" {
			t.Errorf("field(%T) = %q, %v", v, got, err)
		}
		if got, err := field("proc.tty", v); err != nil || got != "<NA>" {
			t.Errorf("field(%T) null = %q, %v", v, got, err)
		}
		if got, err := field("absent", v); err != nil || got != "" {
			t.Errorf("field(%T) absent = %q, %v", v, got, err)
		}
		fs, err := fields(v)
		if err != nil || len(fs) != 7 || fs[0] != (Field{"evt.type", "openat"}) || fs[4] != (Field{"proc.tty", "<NA>"}) || fs[6] != (Field{"user.uid", "0"}) {
			t.Errorf("fields(%T) = %v, %v", v, fs, err)
		}
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

// falcosidekick's templates index and range over .OutputFields as a map:
// they render as they did when output_fields was one (outputs taken from
// the map-based code).
func TestOutputFieldsAsMap(t *testing.T) {
	for _, c := range []struct{ tmpl, want string }{
		{`{{ index .OutputFields "proc.name" }}|{{ index .OutputFields "user.uid" }}|{{ index .OutputFields "proc.tty" }}|{{ index .OutputFields "absent" }}|{{ len .OutputFields }}`,
			"cat|0|<no value>|<no value>|7"},
		{`{{ range $k, $v := .OutputFields }}{{ $k }}={{ $v }};{{ end }}`,
			"evt.type=openat;fd.name=/etc/shadow;k8s.pod.name=web-0;proc.name=cat;proc.tty=<no value>;user.name=root;user.uid=0;"},
		{`{{ range fields . }}{{ .Key }}={{ .Value }};{{ end }}`,
			"evt.type=openat;fd.name=/etc/shadow;k8s.pod.name=web-0;proc.name=cat;proc.tty=<NA>;user.name=root;user.uid=0;"},
		{`{{ with .OutputFields }}{{ index . "fd.name" }}{{ end }}|{{ if .OutputFields }}yes{{ end }}|{{ json .OutputFields }}|{{ field "fd.name" .OutputFields }}`,
			`/etc/shadow|yes|{"evt.type":"openat","fd.name":"/etc/shadow","k8s.pod.name":"web-0","proc.name":"cat","proc.tty":null,"user.name":"root","user.uid":0}|/etc/shadow`},
		{`{{ json . }}`,
			`{"uuid":"9b2d3e4f-0000-4000-8000-000000000001","time":"2026-11-22T10:00:00.123456789Z","priority":"Warning","rule":"Read sensitive file untrusted","output":"10:00:00.123456789: Warning Sensitive file opened for reading by non-trusted program (file=/etc/shadow user=root command=cat /etc/shadow)","output_fields":{"evt.type":"openat","fd.name":"/etc/shadow","k8s.pod.name":"web-0","proc.name":"cat","proc.tty":null,"user.name":"root","user.uid":0},"source":"syscall","tags":["filesystem","mitre_credential_access"],"hostname":"node-1","Format":"all","Text":"x"}`},
	} {
		tm, err := Parse("t", c.tmpl)
		if err != nil {
			t.Fatal(err)
		}
		out, err := Execute(tm, Data{Alert: Sample(), Format: "all", Text: "x"})
		if err != nil || string(out) != c.want {
			t.Errorf("%s:\n got %s (%v)\nwant %s", c.tmpl, out, err, c.want)
		}
	}
	// An alert without output_fields: a nil map, as before.
	a := Sample()
	a.OutputFields = nil
	tm, _ := Parse("t", `{{ index .OutputFields "k" }}|{{ len .OutputFields }}`)
	if out, err := Execute(tm, Data{Alert: a}); err != nil || string(out) != "<no value>|0" {
		t.Errorf("no fields: %s, %v", out, err)
	}
}
