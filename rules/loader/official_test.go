package loader

import (
	"github.com/lannerhq/lanner/rules/condition"
	"path/filepath"
	"testing"
)

const falcoTestdata = "../../../shared/testdata/falco"

var officialFiles = []string{"falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"}

func officialSources(t testing.TB, names ...string) []Source {
	t.Helper()
	var paths []string
	for _, n := range names {
		paths = append(paths, filepath.Join(falcoTestdata, n))
	}
	srcs, err := ReadFiles(paths...)
	if err != nil {
		t.Skipf("Falco rules files not available: %v", err)
	}
	return srcs
}

func TestOfficialFilesLoad(t *testing.T) {
	cases := [][]string{{officialFiles[0]}, {officialFiles[1]}, {officialFiles[2]}, officialFiles}
	for _, names := range cases {
		rs, probs := Load(officialSources(t, names...)...)
		for _, p := range probs {
			if p.Severity == SeverityError {
				t.Errorf("%v: %s", names, p)
			} else {
				t.Logf("%v: %s", names, p)
			}
		}
		if len(rs.Rules) == 0 {
			t.Errorf("%v: no rules loaded", names)
		}
		t.Logf("%v: %d rules", names, len(rs.Rules))
	}
}

// Every field and identifier-derived node must point at its own text in the
// file it came from: the mapping from condition offsets to file positions is
// what makes errors land on the right line and column.
func TestOfficialPositionsPointAtText(t *testing.T) {
	srcs := officialSources(t, officialFiles...)
	data := map[string][]byte{}
	for _, s := range srcs {
		data[s.Name] = s.Data
	}
	rs, _ := Load(srcs...)
	checked, bad := 0, 0
	for _, r := range rs.Rules {
		condition.Inspect(r.Condition, func(n condition.Node) bool {
			var want string
			switch n := n.(type) {
			case *condition.Field:
				want = n.Name
			case *condition.Literal:
				if n.Quoted {
					return true
				}
				want = n.Text
			default:
				return true
			}
			p := n.Position()
			d := data[p.File]
			checked++
			if p.Offset < len(d) && (d[p.Offset] == '"' || d[p.Offset] == '\'') {
				p.Offset++ // a YAML-quoted list item
			}
			if p.Offset+len(want) > len(d) || string(d[p.Offset:p.Offset+len(want)]) != want {
				bad++
				if bad < 10 {
					end := min(p.Offset+30, len(d))
					t.Errorf("rule %q: %s at %s:%d:%d, file has %q", r.Name, want, p.File, p.Line, p.Col, d[p.Offset:end])
				}
			}
			return true
		})
	}
	if bad > 0 {
		t.Errorf("%d of %d positions wrong", bad, checked)
	}
	t.Logf("%d positions checked", checked)
}
