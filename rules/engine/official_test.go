package engine

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/lannerhq/lanner/rules/condition"
	"github.com/lannerhq/lanner/rules/fields"
	"github.com/lannerhq/lanner/rules/loader"
	"github.com/lannerhq/lanner/rules/synthetic"
)

const falcoTestdata = "../../../shared/testdata/falco"

var officialFiles = []string{"falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"}

func officialSources(t testing.TB, names ...string) []loader.Source {
	t.Helper()
	var srcs []loader.Source
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(falcoTestdata, n))
		if err != nil {
			t.Skipf("official rules not available: %v", err)
		}
		srcs = append(srcs, loader.Source{Name: n, Data: data})
	}
	return srcs
}

func TestOfficialRulesCompile(t *testing.T) {
	cases := [][]string{{officialFiles[0]}, {officialFiles[1]}, {officialFiles[2]}, officialFiles}
	for _, files := range cases {
		t.Run(filepath.Join(files...), func(t *testing.T) {
			rs, lps := loader.Load(officialSources(t, files...)...)
			for _, p := range lps {
				if p.Severity == loader.SeverityError {
					t.Errorf("load: %s", p)
				}
			}
			e, cps := Compile(rs, Options{})
			for _, p := range cps {
				if p.Severity == loader.SeverityError {
					t.Errorf("compile: %s", p)
				} else {
					t.Logf("compile: %s", p)
				}
			}
			if len(e.Rules()) == 0 {
				t.Fatal("no rules compiled")
			}
			t.Logf("%d rules loaded, %d enabled, %d event types", len(rs.Rules), len(e.Rules()), len(e.EventTypes()))
			// every field of every condition resolves (Compile would have
			// failed otherwise; this names them for the record)
			used := map[string]bool{}
			for _, r := range rs.Rules {
				condition.Inspect(r.Condition, func(n condition.Node) bool {
					if f, ok := n.(*condition.Field); ok {
						if _, _, err := e.Registry().Resolve(f.Name, f.Arg, f.HasArg); err != nil {
							t.Errorf("%s: %v", r.Name, err)
						}
						used[f.Name] = true
					}
					return true
				})
			}
			t.Logf("%d distinct fields in conditions, all resolved; event types needed: %v", len(used), typeNames(e.EventTypes()))
		})
	}
}

// TestSpecializationDifferential checks the indexed, specialised, memoised
// evaluation against a plain compile of each whole condition, rule by rule,
// over the benchmark's event mix.
func TestSpecializationDifferential(t *testing.T) {
	rs, lps := loader.Load(officialSources(t, officialFiles...)...)
	if loader.HasErrors(lps) {
		t.Fatal(lps)
	}
	e, cps := Compile(rs, Options{})
	if loader.HasErrors(cps) {
		t.Fatal(cps)
	}
	plain := map[string]func(fields.Event) bool{}
	for _, r := range rs.Rules {
		fn, probs := CompileCondition(r.Condition, e.Registry())
		if fn == nil {
			t.Fatalf("%s: %v", r.Name, probs)
		}
		plain[r.Name] = fn
	}
	evs := officialMix(e.Registry(), 2048)
	// make the mix hit more rules: some events in containers, with shells
	types := fields.NewEventTypeTable()
	for i, name := range []string{"/etc/shadow", "/root/.ssh/id_rsa", "/home/bob/.ssh/authorized_keys", "/etc/cron.d/x", "/var/log/syslog", "/dev/sda", "/host/etc/passwd"} {
		for _, write := range []bool{false, true} {
			evs = append(evs, synthetic.New(e.Registry(), types, "openat").
				Set("evt.is_open_read", !write).Set("evt.is_open_write", write).Set("fd.typechar", "f").
				Set("fd.num", 3).Set("fd.name", name).Set("fd.nameraw", name).Set("proc.name", []string{"cat", "bash", "vim", "tar"}[i%4]).
				Set("proc.pname", "bash").Set("container.id", []string{"host", "abc123def456"}[i%2]).
				Set("evt.arg.flags", "O_WRONLY|O_TRUNC").Set("evt.num", 7).Set("user.uid", 0).Set("proc.tty", 0))
		}
	}
	v := e.NewEvaluator()
	matched := map[string]bool{}
	for i, ev := range evs {
		got := map[string]bool{}
		for _, r := range v.EvalAll(ev, nil) {
			got[r.Name] = true
			matched[r.Name] = true
		}
		for _, r := range e.Rules() {
			want := plain[r.Name](ev)
			if got[r.Name] != want {
				t.Errorf("event %d (%s): rule %q: engine %v, plain %v", i, ev.Type(), r.Name, got[r.Name], want)
			}
		}
	}
	if len(matched) < 10 {
		t.Errorf("only %d rules ever matched: the mix is too tame to compare", len(matched))
	}
	t.Logf("%d distinct rules matched", len(matched))
}
