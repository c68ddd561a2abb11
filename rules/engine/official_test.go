package engine

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/lannerhq/lanner/rules/condition"
	"github.com/lannerhq/lanner/rules/loader"
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
