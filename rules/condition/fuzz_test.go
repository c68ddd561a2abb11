package condition

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func FuzzParseCondition(f *testing.F) {
	for _, c := range loadParserCases(f) {
		f.Add(c.Input)
	}
	if b, err := os.ReadFile(filepath.Join(falcoTestdata, "boolean_cases.json")); err == nil {
		var cases []struct {
			Filter string `json:"filter"`
		}
		if json.Unmarshal(b, &cases) == nil {
			for _, c := range cases {
				f.Add(c.Filter)
			}
		}
	}
	f.Add(`proc.name in ("a\\ ", 'b''c') and evt.arg[0] = "\x"`)
	f.Add("not not not (a or b and c)")
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			if _, ok := err.(*SyntaxError); !ok {
				t.Fatalf("Parse(%q): error of type %T", s, err)
			}
			return
		}
		out := String(e)
		e2, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(%q) ok but its print %q fails: %v", s, out, err)
		}
		if !Equal(e, e2) {
			t.Fatalf("round trip of %q: printed %q, reparsed %q", s, out, String(e2))
		}
	})
}
