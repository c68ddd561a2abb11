package engine

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lannerhq/lanner/alert"
	"github.com/lannerhq/lanner/rules/fields"
	"github.com/lannerhq/lanner/rules/loader"
	"github.com/lannerhq/lanner/rules/synthetic"
)

var update = flag.Bool("update", false, "rewrite golden files")

const outputRules = `
- rule: Forms
  desc: every placeholder form Falco accepts
  condition: evt.type = openat
  output: >-
    plain=%proc.name paren=%(proc.name) idx=%proc.aname[2] any=%proc.aname
    dot=%evt.arg.flags br=%evt.arg[flags] env=%proc.env[HOME] trailing=%fd.name.
    missing=%proc.pname miss_num=%proc.ppid num=%proc.pid uid=%user.uid loginuid=%user.loginuid
    bool=%evt.is_open_read ip=%fd.sip port=%fd.sport type=%evt.type dir=%evt.dir
    time=%evt.time host=%evt.hostname pct=100% end %container.info
  priority: WARNING
  tags: [filesystem, test]
`

func golden(t *testing.T, name string, a *alert.Alert) {
	t.Helper()
	a.UUID = "" // random
	if !a.OutputFields.IsSorted() {
		t.Errorf("output_fields not sorted by key: %v", a.OutputFields)
	}
	got, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "output", name+".json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from golden:\n%s\nwant:\n%s", name, got, want)
	}
	// the alert must survive the shared decoder
	if _, err := alert.Decode(got); err != nil {
		t.Errorf("alert.Decode: %v", err)
	}
}

var alertTime = time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC)

func TestOutputForms(t *testing.T) {
	e, probs := compileYAML(t, outputRules, Options{})
	if loader.HasErrors(probs) {
		t.Fatal(probs)
	}
	ev := synthetic.New(e.Registry(), fields.NewEventTypeTable(), "openat").
		Set("proc.name", "cat").
		Set("proc.aname", []string{"bash", "sshd", "systemd"}).
		Set("evt.arg.flags", "O_RDONLY").
		Set("proc.env[HOME]", "/root").
		Set("fd.name", "/etc/shadow").
		Set("proc.pid", 4242).
		Set("user.uid", 0).
		Set("user.loginuid", -1).
		Set("evt.is_open_read", true).
		Set("fd.sip", "10.0.0.1").
		Set("fd.sport", 443)
	a := e.Alert(e.Rules()[0], ev, AlertMeta{Time: alertTime, Hostname: "node-1"})
	if a.UUID == "" {
		t.Error("alert has no uuid")
	}
	golden(t, "forms", a)
}

func TestOutputNoFormat(t *testing.T) {
	e := &Engine{reg: fields.NewRegistry()}
	ev := synthetic.New(e.Registry(), fields.NewEventTypeTable(), "openat")
	a := e.Alert(&Rule{Name: "r"}, ev, AlertMeta{Time: alertTime})
	if b, err := json.Marshal(a.OutputFields); err != nil || string(b) != "{}" {
		t.Errorf("output_fields = %s, %v; want {}", b, err)
	}
}

// shadowRead is cat reading /etc/shadow from a bash in a tty: an event that
// "Read sensitive file untrusted" matches.
func shadowRead(e *Engine, at time.Time) *synthetic.Event {
	return synthetic.New(e.Registry(), fields.NewEventTypeTable(), "openat").
		Set("evt.is_open_read", true).Set("fd.typechar", "f").Set("fd.num", 3).
		Set("fd.name", "/etc/shadow").Set("proc.name", "cat").Set("proc.exepath", "/usr/bin/cat").
		Set("proc.pname", "bash").Set("proc.cmdline", "cat /etc/shadow").Set("proc.tty", 34816).
		Set("proc.aname", []string{"bash", "sshd", "systemd"}).
		Set("user.name", "root").Set("user.uid", 0).Set("user.loginuid", 1000).
		Set("container.id", "host").Set("evt.rawtime", at.UnixNano())
}

func TestOutputOfficialRule(t *testing.T) {
	e := loadOfficial(t)
	ev := shadowRead(e, alertTime)
	r := e.EvalFirst(ev)
	if r == nil || r.Name != "Read sensitive file untrusted" {
		t.Fatalf("first match = %v, want Read sensitive file untrusted", r)
	}
	golden(t, "read_sensitive_file_untrusted", e.Alert(r, ev, AlertMeta{Hostname: "node-1"}))
}
