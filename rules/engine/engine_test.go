package engine

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/lannerhq/lanner/alert"
	"github.com/lannerhq/lanner/rules/condition"
	"github.com/lannerhq/lanner/rules/fields"
	"github.com/lannerhq/lanner/rules/loader"
	"github.com/lannerhq/lanner/rules/synthetic"
)

func compileYAML(t *testing.T, yaml string, opts Options) (*Engine, []Problem) {
	t.Helper()
	rs, lps := loader.Load(loader.Source{Name: "test.yaml", Data: []byte(yaml)})
	if loader.HasErrors(lps) {
		t.Fatalf("load: %v", lps)
	}
	return Compile(rs, opts)
}

func typeNames(ts []fields.EventType) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.String())
	}
	return out
}

func TestEventTypesFalcoWay(t *testing.T) {
	all := len(fields.EventTypes())
	cases := []struct {
		cond string
		want []string // nil: every type
		n    int      // when want is nil: number of types expected
	}{
		{cond: "evt.type = openat", want: []string{"openat"}},
		{cond: "evt.type in (open, openat) and proc.name = cat", want: []string{"open", "openat"}},
		{cond: "evt.type = open or evt.type = execve", want: []string{"open", "execve"}},
		{cond: "(evt.type = open or proc.name = x) and evt.type = execve", want: []string{"execve"}},
		{cond: "evt.type = open or proc.name = x", n: all},
		{cond: "proc.name = cat", n: all},
		{cond: "not proc.name = cat", n: all},
		{cond: "evt.type != switch", n: all - 1},
		{cond: "not evt.type = switch", n: all - 1},
		{cond: "not (evt.type = open or evt.type = close)", n: all - 2},
		{cond: "not (evt.type != open)", want: []string{"open"}},
		{cond: "not (evt.type != open and proc.name = x)", n: all},
		{cond: "evt.type = open and evt.type = close", want: []string{}},
	}
	for _, c := range cases {
		expr, err := condition.Parse(c.cond)
		if err != nil {
			t.Fatalf("%s: %v", c.cond, err)
		}
		cc := &condCompiler{reg: fields.NewRegistry(), types: fields.NewEventTypeTable()}
		set := evtTypes(flatten(cc.expr(expr)), false)
		got := typeNames(set.types())
		if c.want != nil {
			if len(got) == 0 {
				got = []string{}
			}
			// compare as sets, in table order
			want := map[string]bool{}
			for _, w := range c.want {
				want[w] = true
			}
			ok := len(got) == len(want)
			for _, g := range got {
				ok = ok && want[g]
			}
			if !ok {
				t.Errorf("%s: types %v, want %v", c.cond, got, c.want)
			}
		} else if len(got) != c.n {
			t.Errorf("%s: %d types, want %d", c.cond, len(got), c.n)
		}
	}
}

const engineRules = `
- macro: open_read
  condition: evt.type in (open, openat, openat2) and evt.is_open_read=true and fd.typechar='f' and fd.num>=0
- rule: Read shadow
  desc: d
  condition: open_read and fd.name = /etc/shadow
  output: "shadow read by %proc.name (file=%fd.name uid=%user.uid)"
  priority: WARNING
  tags: [filesystem, mitre_credential_access]
- rule: Any etc read
  desc: d
  condition: open_read and fd.name startswith /etc/
  output: "etc read %fd.name"
  priority: NOTICE
- rule: Debug opens
  desc: d
  condition: open_read
  output: "open %fd.name"
  priority: DEBUG
- rule: Disabled
  desc: d
  condition: open_read
  output: x
  priority: ERROR
  enabled: false
- rule: Exec shell
  desc: d
  condition: evt.type = execve and proc.name in (bash, sh)
  output: "shell %proc.cmdline"
  priority: NOTICE
`

func TestEngineFirstAndAll(t *testing.T) {
	e, probs := compileYAML(t, engineRules, Options{})
	if loader.HasErrors(probs) {
		t.Fatal(probs)
	}
	reg := e.Registry()
	types := fields.NewEventTypeTable()
	shadow := synthetic.New(reg, types, "openat").Set("evt.is_open_read", true).Set("fd.typechar", "f").
		Set("fd.num", 3).Set("fd.name", "/etc/shadow").Set("proc.name", "cat").Set("user.uid", 0)
	hosts := synthetic.New(reg, types, "open").Set("evt.is_open_read", true).Set("fd.typechar", "f").
		Set("fd.num", 3).Set("fd.name", "/etc/hosts")
	exec := synthetic.New(reg, types, "execve").Set("proc.name", "bash")
	closeEv := synthetic.New(reg, types, "close").Set("fd.name", "/etc/shadow")

	names := func(rs []*Rule) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Name)
		}
		return out
	}
	for _, c := range []struct {
		ev    fields.Event
		all   []string
		first string
	}{
		{shadow, []string{"Read shadow", "Any etc read", "Debug opens"}, "Read shadow"},
		{hosts, []string{"Any etc read", "Debug opens"}, "Any etc read"},
		{exec, []string{"Exec shell"}, "Exec shell"},
		{closeEv, nil, ""},
	} {
		if got := names(e.EvalAll(c.ev, nil)); !reflect.DeepEqual(got, c.all) {
			t.Errorf("%s: all = %v, want %v", c.ev.Type(), got, c.all)
		}
		r := e.EvalFirst(c.ev)
		got := ""
		if r != nil {
			got = r.Name
		}
		if got != c.first {
			t.Errorf("%s: first = %q, want %q", c.ev.Type(), got, c.first)
		}
	}
	if got := typeNames(e.EventTypes()); !reflect.DeepEqual(got, []string{"open", "openat", "openat2", "execve"}) {
		t.Errorf("EventTypes = %v", got)
	}
	if got := e.Syscalls(); !reflect.DeepEqual(got, []string{"execve", "open", "openat", "openat2"}) {
		t.Errorf("Syscalls = %v", got)
	}

	// MinPriority drops the less severe rules.
	e2, _ := compileYAML(t, engineRules, Options{MinPriority: alert.PriorityWarning})
	if got := names(e2.EvalAll(shadow, nil)); !reflect.DeepEqual(got, []string{"Read shadow"}) {
		t.Errorf("min priority warning: %v", got)
	}
	if len(e2.EventTypes()) != 3 {
		t.Errorf("min priority warning: event types %v", typeNames(e2.EventTypes()))
	}
}

func TestCompileProblems(t *testing.T) {
	const rules = `
- rule: Bad fields
  desc: d
  condition: evt.type = open and proc.nme = x and fd.nam = y
  output: "x %proc.nmae"
  priority: WARNING
- rule: Skipped
  desc: d
  condition: evt.type = open and foo.bar = 1
  output: "x"
  priority: WARNING
  skip-if-unknown-filter: true
- rule: No types
  desc: d
  condition: proc.name = x
  output: "x"
  priority: WARNING
- rule: Good
  desc: d
  condition: evt.type = open and proc.name = x
  output: "x"
  priority: WARNING
`
	e, probs := compileYAML(t, rules, Options{})
	var errs, warns []string
	for _, p := range probs {
		if p.Severity == loader.SeverityError {
			errs = append(errs, p.String())
		} else {
			warns = append(warns, p.String())
		}
	}
	wantErrs := []string{
		`test.yaml:4:34: unknown field "proc.nme"`,
		`test.yaml:4:51: unknown field "fd.nam"`,
		`test.yaml:5:14: output: unknown field "proc.nmae"`,
	}
	if !reflect.DeepEqual(errs, wantErrs) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(errs, "\n"), strings.Join(wantErrs, "\n"))
	}
	joined := strings.Join(warns, "\n")
	for _, w := range []string{`unknown field "foo.bar"`, `rule "Skipped" skipped`, `rule "No types" matches too many evt.type values`} {
		if !strings.Contains(joined, w) {
			t.Errorf("warnings %q lack %q", warns, w)
		}
	}
	var got []string
	for _, r := range e.Rules() {
		got = append(got, r.Name)
	}
	if !reflect.DeepEqual(got, []string{"No types", "Good"}) {
		t.Errorf("rules = %v", got)
	}
	if len(e.EventTypes()) != len(fields.EventTypes()) {
		t.Errorf("a rule without evt.type needs every type; got %d", len(e.EventTypes()))
	}
}

func TestEngineConcurrent(t *testing.T) {
	e := loadOfficial(t)
	evs := officialMix(e.Registry(), 256)
	want := make([]int, len(evs))
	for i, ev := range evs {
		want[i] = len(e.EvalAll(ev, nil))
	}
	done := make(chan error, 4)
	for g := 0; g < 4; g++ {
		go func() {
			var buf []*Rule
			for round := 0; round < 3; round++ {
				for i, ev := range evs {
					if buf = e.EvalAll(ev, buf[:0]); len(buf) != want[i] {
						done <- fmt.Errorf("event %d: %d matches, want %d", i, len(buf), want[i])
						return
					}
				}
			}
			done <- nil
		}()
	}
	for g := 0; g < 4; g++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
